import FeedModel

/// A loop's subscriptions: who follows which stream on this loop, and how each starts (a snapshot,
/// or a replay of what a resuming client missed). On the loop, like the rest of `LoopFanout`.
extension LoopFanout {
    /// Subscribes to `ids` and returns, for each *new* subscription, the snapshot to send first.
    /// Symbols with no value yet come back with a `seq` of 0 and no fields. `updateInterval` is the
    /// request's maximum frequency (nil: every update); it also replaces that of symbols that were
    /// already subscribed, as a new request is the subscriber's latest word on them.
    public func subscribe(
        _ subscriber: Subscriber, to ids: [SymbolID], symbols: [Symbol],
        updateInterval: UpdateInterval? = nil
    ) -> [SymbolSnapshot] {
        subscribe(
            subscriber, to: ids, symbols: symbols, updateInterval: updateInterval,
            resumingAfter: Array(repeating: nil, count: ids.count), replayLimit: 0
        ).map(\.snapshot)
    }

    /// How a new subscription starts: the symbol's current state, and the updates a resuming client
    /// missed when they could all be recovered (`replay`, oldest first; then no snapshot is sent).
    public struct SubscriptionStart: Sendable {
        public var symbol: Symbol
        /// A quotes-and-trades stream's state (empty, seq 0, for a book stream: see `book`).
        public var snapshot: SymbolSnapshot
        /// A book stream's state, nil before its first update (and for other kinds).
        public var book: BookSnapshot?
        /// A candle stream's state, nil before its first trade (and for other kinds).
        public var candles: CandleSnapshot?
        /// Nil: not resuming, or not recoverable; the client gets `snapshot`.
        public var replay: [Tick]?
    }

    /// Subscribes as above, recovering where `resumingAfter` (parallel to `ids`) gives the seq a
    /// client holds: the updates after it are read from the history under the same lock as the
    /// snapshot, so the replay ends at the snapshot's seq and the ring carries on from there.
    public func subscribe(
        _ subscriber: Subscriber, to ids: [SymbolID], symbols: [Symbol], updateInterval: UpdateInterval?,
        resumingAfter seqs: [UInt64?], replayLimit: Int
    ) -> [SubscriptionStart] {
        eventLoop.assertInEventLoop()
        precondition(ids.count == symbols.count && ids.count == seqs.count)
        // Symbols already subscribed only take the new interval: no snapshot or replay is read for
        // them (under the lock the publisher needs), however often a client repeats its subscribe.
        var fresh: [Int] = []
        for (offset, id) in ids.enumerated() {
            if let existing = subscriber.subscriptions[id] {
                existing.updateInterval = updateInterval
            } else {
                fresh.append(offset)
            }
        }
        guard !fresh.isEmpty else { return [] }
        // Counted before the snapshots are read: see `ChannelDemand`. (Every fresh id is added below.)
        demand?.count(fresh.map { ids[$0] }, by: 1)
        let current = lastValues.starts(
            of: fresh.map { ids[$0] }, resumingAfter: fresh.map { seqs[$0] }, replayLimit: replayLimit)
        var starts: [SubscriptionStart] = []
        for (position, offset) in fresh.enumerated() {
            var snapshot = SymbolSnapshot(symbol: symbols[offset])
            var book: BookSnapshot?
            var candles: CandleSnapshot?
            switch current[position].0 {
            case .symbol(let latest): snapshot = latest
            case .book(let latest): book = latest
            case .candles(let latest): candles = latest
            case nil: break
            }
            if let added = index.add(subscriber, to: ids[offset], lastSentSeq: current[position].0?.seq ?? 0) {
                added.updateInterval = updateInterval
                starts.append(
                    SubscriptionStart(
                        symbol: symbols[offset], snapshot: snapshot, book: book, candles: candles,
                        replay: current[position].1))
            }
        }
        counters.subscriptions.wrappingIncrement(by: starts.count, ordering: .relaxed)
        return starts
    }

    /// Returns how many of `ids` were subscribed.
    @discardableResult
    public func unsubscribe(_ subscriber: Subscriber, from ids: [SymbolID]) -> Int {
        eventLoop.assertInEventLoop()
        var removed: [SymbolID] = []
        for id in ids {
            if let subscription = subscriber.subscriptions[id] { conflator.forget(subscription) }
            if index.remove(subscriber, from: id) { removed.append(id) }
        }
        demand?.count(removed, by: -1)
        counters.subscriptions.wrappingDecrement(by: removed.count, ordering: .relaxed)
        return removed.count
    }

    /// How many of this loop's subscribers follow `id`: the lookup every ring record starts with.
    public func subscriberCount(of id: SymbolID) -> Int {
        index.subscriptions(of: id).count
    }

    /// Drops every subscription of a closing connection, and whatever was corked for it: once a
    /// connection is closing, nothing more is written to it.
    public func remove(_ subscriber: Subscriber) {
        eventLoop.assertInEventLoop()
        WriteQueue.discard(subscriber)
        for subscription in subscriber.subscriptions.values { conflator.forget(subscription) }
        demand?.count(subscriber.subscribedSymbols, by: -1)
        let removed = index.removeAll(subscriber)
        counters.subscriptions.wrappingDecrement(by: removed, ordering: .relaxed)
    }
}
