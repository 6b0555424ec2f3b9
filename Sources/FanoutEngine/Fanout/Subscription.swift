import FeedModel

/// One subscriber's interest in one symbol on one event loop, with the delivery state the fan-out
/// needs for it. Confined to that loop, like its `Subscriber`.
///
/// `lastSentSeq` is the seq of the newest update of the symbol this subscriber has been sent (by the
/// snapshot on subscribe, a live update, or a conflated latest value). It makes delivery monotonic:
/// anything at or below it is never sent again, and the jump to the next one sent is exactly the gap
/// the client sees, which is how drops are counted (`Subscriber.dropped`).
///
/// Layout: there are connections × symbols of these, so the stored fields are packed (32-bit
/// position and interval) to keep the object in a 64-byte heap block instead of a 96-byte one.
final class Subscription {
    /// Strong, on purpose: a drain iterates a copy of the index, and a write can close a connection
    /// and tear its handler (the subscriber's owner) down mid-iteration. The reference cycle with
    /// `Subscriber.subscriptions` is broken when the index removes the subscription.
    let subscriber: Subscriber
    var lastSentSeq: UInt64
    let symbolID: SymbolID
    /// Position in the symbol's list in `SubscriptionIndex`.
    private var storedPosition: Int32
    /// `updateInterval` in milliseconds; 0 for none.
    private var intervalMilliseconds: Int32 = 0
    /// True while an update was skipped (the socket could not take it) and the latest value has not
    /// been sent since. The subscription is then in its subscriber's stale list.
    var isStale = false
    /// True while the subscription has an entry in its subscriber's stale list (which may outlive
    /// `isStale` until the list is next compacted; see `Subscriber.forgetStale`).
    var isInStaleList = false
    /// Non-zero while an update is held back by `updateInterval`: the ticket of the subscription's
    /// live entry in `HeldUpdates`, which sends it the symbol's latest value at the group's next
    /// release. (A ticket, not a flag, so that an entry from an earlier hold is known to be dead.)
    var holdTicket: UInt32 = 0
    var isHeld: Bool { holdTicket != 0 }

    init(subscriber: Subscriber, symbolID: SymbolID, position: Int, lastSentSeq: UInt64) {
        self.subscriber = subscriber
        self.symbolID = symbolID
        self.storedPosition = Int32(position)
        self.lastSentSeq = lastSentSeq
    }

    /// Position in the symbol's list in `SubscriptionIndex`.
    var position: Int {
        get { Int(storedPosition) }
        set { storedPosition = Int32(newValue) }
    }

    /// The subscription's maximum frequency (`maxFrequency`); nil sends every update at once.
    /// (Intervals are at most 100 s, `UpdateInterval.lowestFrequency`, so they fit 32 bits.)
    var updateInterval: UpdateInterval? {
        get { intervalMilliseconds == 0 ? nil : UpdateInterval(milliseconds: Int64(intervalMilliseconds)) }
        set { intervalMilliseconds = newValue.map { Int32(clamping: $0.milliseconds) } ?? 0 }
    }
}
