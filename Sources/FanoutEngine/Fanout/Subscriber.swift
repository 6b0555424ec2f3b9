import NIOCore

/// One connection's subscription state and counters on its event loop. Confined to that loop.
public final class Subscriber {
    public let sink: any FrameSink
    public let encoding: MessageEncoding
    /// Updates written to this subscriber: live ones and conflated latest values.
    public internal(set) var delivered: UInt64 = 0
    /// Updates this subscriber will never get because it (or its loop) fell behind, counted when the
    /// update that jumps over them is sent. With `throttled`, it equals the sum of the seq gaps the
    /// client has seen.
    public internal(set) var dropped: UInt64 = 0
    /// Latest-value (`conflated`) messages sent in place of updates the socket could not take.
    public internal(set) var conflated: UInt64 = 0
    /// Updates skipped because a subscription asked for at most one per interval (`maxFrequency`),
    /// counted like `dropped` when the update that jumps over them is sent. `dropped + throttled`
    /// is the sum of the seq gaps the client has seen.
    public internal(set) var throttled: UInt64 = 0
    /// Updates the feed itself skipped (an upstream gap: the publisher's seq jumped), seen as a jump
    /// between two live updates sent to this connection. `dropped + throttled + upstream` is the
    /// sum of the seq gaps the client has seen. (An upstream gap inside a span the hub conflated is
    /// counted in `dropped`, with the rest of the span.)
    public internal(set) var upstream: UInt64 = 0
    /// True when something was written since the owner last cleared it; drives heartbeats.
    public var wroteSinceLastCheck = false
    /// Whether the connection takes more frames now; the sink keeps it current (`FrameSink.attach`).
    /// Kept here, not asked of the sink, because the fan-out checks it before every delivery and
    /// the subscriber's memory is already at hand there.
    public var isWritable = true

    /// This subscriber's subscriptions on its loop, by symbol.
    var subscriptions = SubscriptionsBySymbol()
    /// Subscriptions whose latest value may be owed, oldest first. Every subscription with `isStale`
    /// is in it exactly once (`isInStaleList`); one whose debt was settled another way
    /// (`forgetStale`) stays until the next catch-up or compaction takes it out, so that forgetting
    /// is O(1) (a connection closing with 1,000 stale symbols must not cost 1,000 linear searches).
    private var staleList: [Subscription] = []
    /// Subscriptions with `isStale` set.
    public private(set) var staleCount = 0
    /// Set while this subscriber is in its loop's `WriteQueue`, waiting for its corked frames to be written.
    var awaitingWrite = false
    /// Set while this subscriber is in its loop's owed check (`Conflator`), so it is there once.
    var awaitingOwedCheck = false
    /// This drain's frames for the subscriber, not yet handed to its sink (`WriteQueue`).
    var corked = CorkedFrames()

    public init(sink: any FrameSink, encoding: MessageEncoding = .plain) {
        self.sink = sink
        self.encoding = encoding
        sink.attach(self)
    }

    public var subscriptionCount: Int { subscriptions.count }
    public func isSubscribed(to id: SymbolID) -> Bool { subscriptions[id] != nil }
    /// The symbols subscribed to on this loop, in `SymbolID` order.
    public var subscribedSymbols: [SymbolID] { subscriptions.keys }

    /// Returns true when this made the subscriber owe something it did not owe before.
    @discardableResult
    func markStale(_ subscription: Subscription) -> Bool {
        guard !subscription.isStale else { return false }
        subscription.isStale = true
        staleCount += 1
        if !subscription.isInStaleList {
            subscription.isInStaleList = true
            staleList.append(subscription)
        }
        return staleCount == 1
    }

    /// The subscription's latest value is no longer owed (it was sent, or it is being removed).
    func forgetStale(_ subscription: Subscription) {
        guard subscription.isStale else { return }
        subscription.isStale = false
        staleCount -= 1
        if staleList.count > 64 && staleList.count > 2 * staleCount {
            staleList.removeAll { subscription in
                if subscription.isStale { return false }
                subscription.isInStaleList = false
                return true
            }
        }
    }

    /// Empties the stale list, once every subscription is gone: entries left for a later compaction
    /// hold their subscriptions, which hold this subscriber, so a list left behind would keep a
    /// closed connection's subscriber (and its sink) alive forever (found by the fan-out fuzzer).
    func dropStaleList() {
        precondition(subscriptions.count == 0 && staleCount == 0, "subscriptions remain")
        for subscription in staleList { subscription.isInStaleList = false }
        staleList = []
    }

    /// Takes the owed subscriptions out of the list, oldest first, for catch-up; they stay stale
    /// (and counted) until catch-up sends them or puts them back.
    func takeStale() -> [Subscription] {
        let list = staleList
        staleList = []
        var owed: [Subscription] = []
        owed.reserveCapacity(staleCount)
        for subscription in list {
            subscription.isInStaleList = false
            if subscription.isStale { owed.append(subscription) }
        }
        return owed
    }

    /// Puts back, ahead of anything marked since, what catch-up took and could not send.
    func putBackStale(_ owed: ArraySlice<Subscription>) {
        let back = owed.filter { $0.isStale && !$0.isInStaleList }
        for subscription in back { subscription.isInStaleList = true }
        staleList = back + staleList
    }

    /// Whether `subscription` is in the stale list (for invariant checks).
    func staleListContains(_ subscription: Subscription) -> Bool {
        staleList.contains { $0 === subscription }
    }
}
