import AccessControl
import FanoutEngine
import FeedModel

/// What each `tickerhub.v1` request does (docs/PROTOCOL.md): the change to the connection's
/// subscriptions on its loop's fan-out, and the answers, in the order they go out. No channel here:
/// the session parses the request, hands it over, and writes what comes back.
struct SubscriberRequests {
    let directory: SymbolDirectory
    let fanout: LoopFanout
    let subscriber: Subscriber
    let maxSymbols: Int
    let listPageSize: Int
    /// The numbering of this hub's seqs, stamped on snapshots; a resume from another is not recovered.
    let epoch: FeedEpoch
    let maxReplay: Int
    let metrics: HubMetrics

    init(hub: Hub, fanout: LoopFanout, subscriber: Subscriber) {
        directory = hub.engine.directory
        self.fanout = fanout
        self.subscriber = subscriber
        maxSymbols = hub.configuration.maxSymbolsPerConnection
        listPageSize = hub.configuration.listPageSize
        epoch = hub.engine.epoch
        maxReplay = hub.configuration.maxReplayPerRequest
        metrics = hub.metrics
    }

    /// The answers to `request`, or the error it is refused with (and nothing changed).
    /// `entitlement` is what the connection's token grants; `backlogBytes` is asked only by a
    /// `stats` request. (`auth` is the session's: its token is checked off the loop.)
    func answer(_ request: ClientMessage, entitlement: SymbolEntitlement, backlogBytes: () -> Int) -> Result<[ServerMessage], ProtocolError> {
        switch request {
        case let .subscribe(id, names, interval, resume, channel):
            subscribe(id: id, names: names, channel: channel, updateInterval: interval, resume: resume, entitlement: entitlement)
        case let .unsubscribe(id, names, channel):
            unsubscribe(id: id, names: names, channel: channel)
        case let .list(id, after):
            list(id: id, after: after, entitlement: entitlement)
        case .auth:
            .success([])
        case .ping(let id):
            .success([.pong(id: id, timestamp: .now())])
        case .stats(let id):
            .success([.stats(id: id, counters: [
                ("delivered", subscriber.delivered), ("dropped", subscriber.dropped), ("throttled", subscriber.throttled),
                ("upstream", subscriber.upstream), ("conflated", subscriber.conflated),
                ("stale", UInt64(subscriber.staleCount)), ("subscriptions", UInt64(subscriber.subscriptionCount)),
                ("backlog_bytes", UInt64(backlogBytes())),
            ])])
        }
    }

    /// Subscribes, then answers: the ack, then per new symbol a snapshot or, for a symbol resumed
    /// with `since` whose missed updates are all in the history, those updates (recovery). Updates
    /// follow from the next drain, which runs on this same loop after the answers are written, so
    /// nothing can overtake them. Symbols the token does not grant are left out and named in a
    /// `not_entitled` error after the rest; a request with none granted gets only that error.
    private func subscribe(id: Int64?, names: [String], channel: SubscriptionChannel, updateInterval: UpdateInterval?,
                           resume: ResumePoint?, entitlement: SymbolEntitlement) -> Result<[ServerMessage], ProtocolError> {
        let (granted, refused) = entitlement.partition(uniqued(names))
        let refusal = refused.isEmpty ? nil : ProtocolError.notEntitled(refused, id: id)
        if let refusal, granted.isEmpty { return .failure(refusal) }
        return subscribe(id: id, granted: granted, channel: channel, updateInterval: updateInterval, resume: resume).map { answers in
            answers + (refusal.map { [.error($0)] } ?? [])
        }
    }

    private func subscribe(id: Int64?, granted names: [String], channel: SubscriptionChannel, updateInterval: UpdateInterval?,
                           resume: ResumePoint?) -> Result<[ServerMessage], ProtocolError> {
        let resolved = directory.resolve(names)
        guard resolved.unknown.isEmpty else { return .failure(.unknownSymbols(resolved.unknown, id: id)) }
        // The stream each name stands for on this channel: the symbol's own id, its book's at the
        // depth, its bars' at the interval, or its quotes' or trades' alone.
        let symbolIDs = resolved.known.map(\.1)
        var ids = symbolIDs
        // A symbol is on one of the default, `quotes` and `trades` channels at a time: the others it
        // was on are left for this one.
        var leaving: [SymbolID] = []
        switch channel {
        case .ticks, .quotes, .trades:
            for symbolID in symbolIDs {
                guard let streams = directory.channelStreams(of: symbolID) else { continue }
                let family = [symbolID] + streams
                let chosen = channel == .ticks ? symbolID : channel == .quotes ? streams[0] : streams[1]
                leaving += family.filter { $0 != chosen && subscriber.isSubscribed(to: $0) }
            }
            if channel != .ticks { ids = symbolIDs.compactMap { directory.channelStreams(of: $0)?[channel == .quotes ? 0 : 1] } }
        case .book(let depth): ids = symbolIDs.compactMap { directory.bookStream(of: $0, depth: depth) }
        case .candles(let interval): ids = symbolIDs.compactMap { directory.candleStream(of: $0, interval: interval) }
        }
        precondition(ids.count == resolved.known.count, "every symbol has every stream the parser accepts")
        let total = subscriber.subscriptionCount - leaving.count + ids.filter { !subscriber.isSubscribed(to: $0) }.count
        guard total <= maxSymbols else {
            return .failure(ProtocolError(id: id, code: .tooManySymbols,
                                          message: "\(total) subscriptions would exceed the limit of \(maxSymbols) per connection"))
        }
        if !leaving.isEmpty { fanout.unsubscribe(subscriber, from: leaving) }
        let symbols = resolved.known.map { Symbol($0.0)! }
        // Seqs of another epoch say nothing about what the client missed here: none is resumed.
        let sameEpoch = resume?.epoch.map { $0 == epoch } ?? true
        let resumeAfter = symbols.map { sameEpoch ? resume?.lastSeqs[$0.name] : nil }
        let starts = fanout.subscribe(subscriber, to: ids, symbols: symbols, updateInterval: updateInterval,
                                      resumingAfter: resumeAfter, replayLimit: maxReplay)
        // Symbols resumed with `since` that start with a snapshot: the history no longer held what
        // they missed, or the epoch changed. (A symbol already subscribed here is live: not counted.)
        let unrecovered = starts.filter { $0.replay == nil && resume?.lastSeqs[$0.symbol.name] != nil }.map(\.symbol.name)
        let recovery = resume.map { _ in ServerMessage.Recovery(notRecovered: unrecovered) }
        metrics.unrecoveredSymbols.wrappingIncrement(by: UInt64(unrecovered.count), ordering: .relaxed)
        var answers: [ServerMessage] = [.ack(id: id, op: "subscribe", symbols: symbols.map(\.name), updateInterval: updateInterval,
                                             recovery: recovery, channel: ChannelScope(channel))]
        for start in starts {
            if case .book(let depth) = channel {
                answers.append(.book(start.book ?? BookSnapshot(symbol: start.symbol, depth: depth)))
            } else if case .candles(let interval) = channel {
                answers.append(.candles(start.candles ?? CandleSnapshot(symbol: start.symbol, interval: interval)))
            } else if let replay = start.replay {
                metrics.recoveredSymbols.wrappingIncrement(ordering: .relaxed)
                metrics.replayedUpdates.wrappingIncrement(by: UInt64(replay.count), ordering: .relaxed)
                answers += replay.map { .update($0) }
            } else {
                answers.append(.snapshot(start.snapshot, epoch: epoch))
            }
        }
        return .success(answers)
    }

    private func unsubscribe(id: Int64?, names: [String], channel: ChannelScope) -> Result<[ServerMessage], ProtocolError> {
        let resolved = directory.resolve(uniqued(names))
        guard resolved.unknown.isEmpty else { return .failure(.unknownSymbols(resolved.unknown, id: id)) }
        let symbolIDs = resolved.known.map(\.1)
        switch channel {
        case .ticks:
            fanout.unsubscribe(subscriber, from: symbolIDs)
        case .quotes:
            fanout.unsubscribe(subscriber, from: symbolIDs.compactMap { directory.channelStreams(of: $0)?[0] })
        case .trades:
            fanout.unsubscribe(subscriber, from: symbolIDs.compactMap { directory.channelStreams(of: $0)?[1] })
        case .book(let depth?):
            fanout.unsubscribe(subscriber, from: symbolIDs.compactMap { directory.bookStream(of: $0, depth: depth) })
        case .book(nil):
            fanout.unsubscribe(subscriber, from: symbolIDs.flatMap { directory.bookStreams(of: $0) ?? [] })
        case .candles(let interval?):
            fanout.unsubscribe(subscriber, from: symbolIDs.compactMap { directory.candleStream(of: $0, interval: interval) })
        case .candles(nil):
            fanout.unsubscribe(subscriber, from: symbolIDs.flatMap { directory.candleStreams(of: $0) ?? [] })
        }
        return .success([.ack(id: id, op: "unsubscribe", symbols: resolved.known.map(\.0), channel: channel)])
    }

    /// One page of symbols (`listPageSize`). Paged so that an answer stays far below the backlog
    /// limits whatever an ingest feed registered: 100,000 names in one message would be over a
    /// megabyte, and a client that asked politely would be evicted as a slow consumer.
    /// Only the symbols the token grants are named; a page may then hold fewer than
    /// `listPageSize`, even none, and `next` still says where the following one starts.
    private func list(id: Int64?, after: String?, entitlement: SymbolEntitlement) -> Result<[ServerMessage], ProtocolError> {
        var start: SymbolID?
        if let after {
            guard let known = directory.id(of: after) else { return .failure(.unknownSymbols([after], id: id)) }
            start = known
        }
        let page = directory.page(after: start, limit: listPageSize)
        let names = page.symbols.map(\.name)
        let granted = entitlement.isEverything ? names : names.filter(entitlement.allows)
        return .success([.symbols(id: id, symbols: granted, next: page.more ? names.last : nil)])
    }

    /// Ends the subscriptions `entitlement` no longer grants (a refreshed token may grant less) and
    /// returns their names.
    func revokeUngranted(by entitlement: SymbolEntitlement) -> [String] {
        guard !entitlement.isEverything else { return [] }
        let revoked = subscriber.subscribedSymbols.compactMap { id in
            directory.symbol(for: id).flatMap { entitlement.allows($0.name) ? nil : ($0.name, id) }
        }
        if !revoked.isEmpty { fanout.unsubscribe(subscriber, from: revoked.map(\.1)) }
        return revoked.map(\.0)
    }

    private func uniqued(_ names: [String]) -> [String] {
        var seen = Set<String>()
        return names.filter { seen.insert($0).inserted }
    }
}
