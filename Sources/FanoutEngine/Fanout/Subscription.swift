/// One subscriber's interest in one symbol on one event loop, with the delivery state the fan-out
/// needs for it. Confined to that loop, like its `Subscriber`.
///
/// `lastSentSeq` is the seq of the newest update of the symbol this subscriber has been sent (by the
/// snapshot on subscribe, a live update, or a conflated latest value). It makes delivery monotonic:
/// anything at or below it is never sent again, and the jump to the next one sent is exactly the gap
/// the client sees, which is how drops are counted (`Subscriber.dropped`).
final class Subscription {
    /// Strong, on purpose: a drain iterates a copy of the index, and a write can close a connection
    /// and tear its handler (the subscriber's owner) down mid-iteration. The reference cycle with
    /// `Subscriber.subscriptions` is broken when the index removes the subscription.
    let subscriber: Subscriber
    let symbolID: SymbolID
    /// Position in the symbol's list in `SubscriptionIndex`.
    var position: Int
    var lastSentSeq: UInt64
    /// True while an update was skipped (the socket could not take it) and the latest value has not
    /// been sent since. The subscription is then in `subscriber.staleSubscriptions`.
    var isStale = false

    init(subscriber: Subscriber, symbolID: SymbolID, position: Int, lastSentSeq: UInt64) {
        self.subscriber = subscriber
        self.symbolID = symbolID
        self.position = position
        self.lastSentSeq = lastSentSeq
    }
}
