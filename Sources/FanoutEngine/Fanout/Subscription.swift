import FeedModel

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
    /// The subscription's maximum frequency (`maxFrequency`); nil sends every update at once.
    var updateInterval: UpdateInterval?
    /// True while an update is held back by `updateInterval`: the subscription is in `HeldUpdates`
    /// and gets the symbol's latest value at the group's next release.
    var isHeld = false

    init(subscriber: Subscriber, symbolID: SymbolID, position: Int, lastSentSeq: UInt64) {
        self.subscriber = subscriber
        self.symbolID = symbolID
        self.position = position
        self.lastSentSeq = lastSentSeq
    }
}
