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
    /// `patterns`: the connection's symbol patterns, which subscribes and unsubscribes change.
    func answer(
        _ request: ClientMessage, entitlement: SymbolEntitlement, patterns: inout [PatternSubscription],
        backlogBytes: () -> Int
    ) -> Result<[ServerMessage], ProtocolError> {
        switch request {
        case let .subscribe(id, names, interval, resume, channel):
            subscribe(
                id: id, names: names, channel: channel, updateInterval: interval, resume: resume,
                entitlement: entitlement,
                patterns: &patterns)
        case let .unsubscribe(id, names, channel):
            unsubscribe(id: id, names: names, channel: channel, entitlement: entitlement, patterns: &patterns)
        case let .list(id, after):
            list(id: id, after: after, entitlement: entitlement)
        case .auth:
            .success([])
        case .ping(let id):
            .success([.pong(id: id, timestamp: .now())])
        case .stats(let id):
            .success([
                .stats(
                    id: id,
                    counters: [
                        ("delivered", subscriber.delivered), ("dropped", subscriber.dropped),
                        ("throttled", subscriber.throttled),
                        ("upstream", subscriber.upstream), ("conflated", subscriber.conflated),
                        ("stale", UInt64(subscriber.staleCount)),
                        ("subscriptions", UInt64(subscriber.subscriptionCount)),
                        ("backlog_bytes", UInt64(backlogBytes())),
                    ])
            ])
        }
    }

    /// Subscribes, then answers: the ack, then per new symbol a snapshot or, for a symbol resumed
    /// with `since` whose missed updates are all in the history, those updates (recovery). Updates
    /// follow from the next drain, which runs on this same loop after the answers are written, so
    /// nothing can overtake them. Symbols the token does not grant are left out and named in a
    /// `not_entitled` error after the rest; a request with none granted gets only that error.
    /// Names with a `*` are patterns (`SymbolPattern`): they take every symbol they match now that
    /// the token grants, and the session adds those that appear later (`subscribeAppeared`).
    private func subscribe(
        id: Int64?, names: [String], channel: SubscriptionChannel, updateInterval: UpdateInterval?,
        resume: ResumePoint?, entitlement: SymbolEntitlement,
        patterns: inout [PatternSubscription]
    ) -> Result<[ServerMessage], ProtocolError> {
        let (found, patternTexts) = uniqued(names).partitioned { !SymbolPattern.isPattern($0) }
        let asked: [SymbolPattern]
        switch Self.patterns(patternTexts, id: id) {
        case .failure(let error): return .failure(error)
        case .success(let valid): asked = valid
        }
        if !asked.isEmpty, resume != nil {
            return .failure(
                ProtocolError(
                    id: id, code: .invalidRequest, message: "\"since\" names symbols: resume them apart from patterns"))
        }
        let (granted, refused) = entitlement.partition(found)
        let refusal = refused.isEmpty ? nil : ProtocolError.notEntitled(refused, id: id)
        if let refusal, granted.isEmpty, asked.isEmpty { return .failure(refusal) }
        // What the patterns match now, within the grant (a pattern is never refused: it matches less).
        let matched =
            asked.isEmpty
            ? []
            : directory.allSymbols.filter { symbol in
                asked.contains { $0.matches(symbol) } && entitlement.allows(symbol.name)
            }.map(\.name)
        let result = subscribe(
            id: id, granted: uniqued(granted + matched), channel: channel, updateInterval: updateInterval,
            resume: resume, patterns: asked.map(\.description))
        if case .success = result {
            for pattern in asked {
                let entry = PatternSubscription(pattern: pattern, channel: channel, updateInterval: updateInterval)
                patterns.removeAll { $0.pattern == pattern && $0.channel == channel }
                patterns.append(entry)
            }
        }
        return result.map { answers in answers + (refusal.map { [.error($0)] } ?? []) }
    }

    /// A symbol that appeared after the connection subscribed to `entry`'s pattern, which it
    /// matches (and the grant allows): subscribed like a named one. The answers start with no ack:
    /// the first is the symbol's snapshot (or `book`, `candles`).
    func subscribeAppeared(_ symbol: Symbol, for entry: PatternSubscription) -> Result<[ServerMessage], ProtocolError> {
        subscribe(
            id: nil, granted: [symbol.name], channel: entry.channel, updateInterval: entry.updateInterval, resume: nil
        )
        .map { Array($0.dropFirst()) }
        .mapError { error in
            var named = error
            named.symbols = [symbol.name]
            named.message = "\(symbol.name) matches \(entry.pattern), but \(error.message)"
            return named
        }
    }

    private static func patterns(_ texts: [String], id: Int64?) -> Result<[SymbolPattern], ProtocolError> {
        var patterns: [SymbolPattern] = []
        for text in texts {
            guard let pattern = SymbolPattern(text) else {
                return .failure(
                    ProtocolError(
                        id: id, code: .invalidRequest,
                        message:
                            """
                            \"\(text.prefix(32))\" is not a pattern: a prefix then one final *, such as \"*\" or\
                             \"EUR/*\"
                            """
                    ))
            }
            patterns.append(pattern)
        }
        return .success(patterns)
    }

    private func subscribe(
        id: Int64?, granted names: [String], channel: SubscriptionChannel, updateInterval: UpdateInterval?,
        resume: ResumePoint?, patterns: [String] = []
    ) -> Result<[ServerMessage], ProtocolError> {
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
            if channel != .ticks {
                ids = symbolIDs.compactMap { directory.channelStreams(of: $0)?[channel == .quotes ? 0 : 1] }
            }
        case .book(let depth): ids = symbolIDs.compactMap { directory.bookStream(of: $0, depth: depth) }
        case .candles(let interval): ids = symbolIDs.compactMap { directory.candleStream(of: $0, interval: interval) }
        }
        precondition(ids.count == resolved.known.count, "every symbol has every stream the parser accepts")
        let total = subscriber.subscriptionCount - leaving.count + ids.filter { !subscriber.isSubscribed(to: $0) }.count
        guard total <= maxSymbols else {
            return .failure(
                ProtocolError(
                    id: id, code: .tooManySymbols,
                    message: "\(total) subscriptions would exceed the limit of \(maxSymbols) per connection"))
        }
        if !leaving.isEmpty { fanout.unsubscribe(subscriber, from: leaving) }
        let symbols = resolved.known.map { Symbol($0.0)! }
        // Seqs of another epoch say nothing about what the client missed here: none is resumed.
        let sameEpoch = resume?.epoch.map { $0 == epoch } ?? true
        let resumeAfter = symbols.map { sameEpoch ? resume?.lastSeqs[$0.name] : nil }
        let starts = fanout.subscribe(
            subscriber, to: ids, symbols: symbols, updateInterval: updateInterval,
            resumingAfter: resumeAfter, replayLimit: maxReplay)
        // Symbols resumed with `since` that start with a snapshot: the history no longer held what
        // they missed, or the epoch changed. (A symbol already subscribed here is live: not counted.)
        let unrecovered = starts.filter { $0.replay == nil && resume?.lastSeqs[$0.symbol.name] != nil }.map(
            \.symbol.name)
        let recovery = resume.map { _ in ServerMessage.Recovery(notRecovered: unrecovered) }
        metrics.unrecoveredSymbols.wrappingIncrement(by: UInt64(unrecovered.count), ordering: .relaxed)
        var answers: [ServerMessage] = [
            .ack(
                id: id, op: .subscribe, symbols: symbols.map(\.name), updateInterval: updateInterval,
                recovery: recovery, channel: ChannelScope(channel), patterns: patterns)
        ]
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

    /// A pattern leaves the connection's patterns (on the channels `channel` covers), and so do the
    /// symbols it matches now.
    private func unsubscribe(
        id: Int64?, names: [String], channel: ChannelScope, entitlement: SymbolEntitlement,
        patterns: inout [PatternSubscription]
    ) -> Result<[ServerMessage], ProtocolError> {
        let (found, patternTexts) = uniqued(names).partitioned { !SymbolPattern.isPattern($0) }
        let leaving: [SymbolPattern]
        switch Self.patterns(patternTexts, id: id) {
        case .failure(let error): return .failure(error)
        case .success(let valid): leaving = valid
        }
        let resolved = directory.resolve(found)
        guard resolved.unknown.isEmpty else { return .failure(.unknownSymbols(resolved.unknown, id: id)) }
        patterns.removeAll { leaving.contains($0.pattern) && channel.covers($0.channel) }
        let matched =
            leaving.isEmpty ? [] : directory.allSymbols.filter { symbol in leaving.contains { $0.matches(symbol) } }
        var symbolIDs = resolved.known.map(\.1)
        for symbol in matched { if let id = directory.id(of: symbol.name) { symbolIDs.append(id) } }
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
            fanout.unsubscribe(
                subscriber, from: symbolIDs.compactMap { directory.candleStream(of: $0, interval: interval) })
        case .candles(nil):
            fanout.unsubscribe(subscriber, from: symbolIDs.flatMap { directory.candleStreams(of: $0) ?? [] })
        }
        return .success([
            .ack(
                id: id, op: .unsubscribe, symbols: resolved.known.map(\.0), channel: channel,
                patterns: leaving.map(\.description))
        ])
    }

    /// One page of symbols (`listPageSize`). Paged so that an answer stays far below the backlog
    /// limits whatever an ingest feed registered: 100,000 names in one message would be over a
    /// megabyte, and a client that asked politely would be evicted as a slow consumer.
    /// Only the symbols the token grants are named; a page may then hold fewer than
    /// `listPageSize`, even none, and `next` still says where the following one starts.
    private func list(id: Int64?, after: String?, entitlement: SymbolEntitlement) -> Result<
        [ServerMessage], ProtocolError
    > {
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

    func uniqued(_ names: [String]) -> [String] {
        var seen = Set<String>()
        return names.filter { seen.insert($0).inserted }
    }
}

/// A symbol pattern a connection follows, on one channel, at one maximum frequency.
struct PatternSubscription: Sendable, Equatable {
    let pattern: SymbolPattern
    let channel: SubscriptionChannel
    let updateInterval: UpdateInterval?
}

extension Array {
    /// The elements that satisfy `belongs`, and the others, each in order.
    func partitioned(by belongs: (Element) -> Bool) -> (matching: [Element], others: [Element]) {
        var matching: [Element] = [], others: [Element] = []
        for element in self { if belongs(element) { matching.append(element) } else { others.append(element) } }
        return (matching, others)
    }
}
