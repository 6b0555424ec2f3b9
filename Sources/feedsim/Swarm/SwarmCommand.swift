import ArgumentParser
import FanoutEngine
import FeedModel
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Histogram
import NIOCore
import NIOPosix
import NIOWebSocket

/// `feedsim swarm`: many subscribers against one hub, measuring delivered rate, latency and gaps.
struct SwarmCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "swarm",
        abstract: "Open N subscriber connections and measure messages/s, end-to-end latency and seq gaps."
    )

    @Option(
        help:
            """
            Hub WebSocket URL; several, comma-separated, spread the clients over hubs, and a client whose hub\
             goes away (1001, 1012, connection lost) reconnects to the next with jittered backoff and re-bases\
             from the snapshots.
            """
    ) var url = "ws://127.0.0.1:8080/ws"
    @Option(help: "Number of subscriber connections.") var clients = 1_000
    @Option(help: "Symbols per client.") var subscribe = 10
    @Option(help: "Measured duration in seconds (after all clients connected).") var duration = 10.0
    @Option(help: "Seconds to run before measuring (latency from connection set-up is excluded).") var warmup = 2.0
    @Option(
        help:
            """
            How clients choose symbols: zipf (a few hot symbols, as dashboards do) or even (every symbol the\
             same number of subscribers, as the benchmark matrix uses).
            """
    ) var spread = "zipf"
    @Option(help: "Zipf exponent of symbol popularity with --spread zipf; 0 is uniform.") var skew = 1.0
    @Option(help: "Connections opened concurrently while ramping up.") var concurrency = 256
    @Option(help: "Client event-loop threads (default: cores).") var threads = System.coreCount
    @Option(
        help:
            """
            Local source addresses to spread connections over, past ~28k: a comma-separated list of addresses\
             and ranges (127.0.0.2-127.0.0.9).
            """
    ) var sourceAddresses: String?
    @Option(help: "Seed for symbol choice.") var seed: UInt64 = 7
    @Option(
        help:
            """
            Ask for at most this many updates per second per symbol (the subscribe request's maxFrequency); the\
             hub conflates in between.
            """
    ) var maxFrequency: Double?
    @Option(help: "Share of clients (0-1) that read slowly, spread evenly over the swarm.") var slowFraction = 0.0
    @Option(help: "Bytes per second a slow client reads.") var slowReadBps = 16_384
    @Flag(help: "Offer permessage-deflate (as browsers do) and inflate what arrives compressed.") var deflate = false
    @Flag(help: "Ask for the tickerhub.v1.zstd subprotocol; the dictionary is fetched from the hub.") var zstd = false
    @Option(help: "Seconds to wait at the end for every client's stats reply (slow ones first drain their backlog).")
    var settle = 10.0
    @Option(help: "Write the summary as JSON to this file.") var json: String?
    @Option(help: "Access token for a hub with auth on, sent as Authorization: Bearer by every client.") var token:
        String?
    @Option(help: "With a wss:// URL: trust the CA certificates in this PEM file (default: the system's).") var caFile:
        String?

    func validate() throws {
        guard !url.isEmpty, url.split(separator: ",").allSatisfy({ WebSocketURL(String($0)) != nil }) else {
            throw ValidationError(
                "--url must look like ws://host:port/path or wss://host:port/path (several: comma-separated)")
        }
        guard SubscriptionPlan.Spread(rawValue: spread) != nil else {
            throw ValidationError("--spread must be zipf or even")
        }
        guard clients >= 1, subscribe >= 1, duration > 0, concurrency >= 1, threads >= 1 else {
            throw ValidationError("--clients, --subscribe, --duration, --concurrency and --threads must be positive")
        }
        guard (0...1).contains(slowFraction), slowReadBps >= 1, settle >= 0 else {
            throw ValidationError("--slow-fraction must be 0...1, --slow-read-bps positive, --settle not negative")
        }
        // The hub's own rule, so the tool cannot ask for what the hub would refuse.
        if let maxFrequency, UpdateInterval(maxFrequency: maxFrequency) == nil {
            throw ValidationError(
                """
                --max-frequency must be from \(UpdateInterval.lowestFrequency) to\
                 \(Int(UpdateInterval.highestFrequency)) updates per second
                """
            )
        }
    }

    func run() async throws {
        let urls = self.url.split(separator: ",").map { WebSocketURL(String($0))! }
        let url = urls[0]
        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        let loops = Array(group.makeIterator())
        let stats = loops.map { SwarmLoopStats(eventLoop: $0) }
        let slowStats = loops.map { SwarmLoopStats(eventLoop: $0) }
        let tls = url.isSecure ? try ClientTLS.context(caFile: caFile) : nil
        let token = self.token
        let sources = try SourceAddressList.parse(sourceAddresses ?? "").map {
            try SocketAddress(ipAddress: $0, port: 0)
        }

        // 1. Ask a hub what it publishes (the first that answers: every node lists the same market).
        var listing: SymbolLister.Listing?
        var listingError: (any Error)?
        for candidate in urls where listing == nil {
            let listed = loops[0].makePromise(of: SymbolLister.Listing.self)
            do {
                _ = try await WebSocketConnector.connect(to: candidate, on: loops[0], bearerToken: token, tls: tls) {
                    _ in SymbolLister(result: listed)
                }.get()
                listing = try await listed.futureResult.get()
            } catch {
                listed.fail(error)  // the hub is not there: fail with its error, not a leaked promise
                listingError = error
            }
        }
        guard let listing else { throw listingError! }
        let symbols = listing.symbols
        let zstdDictionary = zstd ? try await fetchZstdDictionary(url: url, id: listing.zstdDictionary) : nil
        let slowCount = (0..<clients).filter(isSlow).count
        log(
            "hub lists \(symbols.count) symbols; connecting \(clients) clients x \(subscribe) symbols"
                + (urls.count > 1 ? " over \(urls.count) hubs" : "")
                + (slowCount > 0 ? ", \(slowCount) of them reading at \(slowReadBps) B/s" : ""))

        // 2. Connect with bounded concurrency.
        var plan = SubscriptionPlan(
            symbols: symbols, perClient: subscribe, spread: SubscriptionPlan.Spread(rawValue: spread)!, skew: skew,
            seed: seed)
        let rampStart = Date()
        var members: [SwarmMember] = []
        var failures: [String: Int] = [:]
        let (deflate, zstd, maxFrequency, slowReadBps) = (self.deflate, self.zstd, self.maxFrequency, self.slowReadBps)
        try await withThrowingTaskGroup(of: Result<SwarmMember, any Error>.self) { tasks in
            var inFlight = 0
            func collect(_ result: Result<SwarmMember, any Error>) {
                switch result {
                case .success(let member): members.append(member)
                case .failure(let error): failures["\(error)", default: 0] += 1
                }
            }
            for index in 0..<clients {
                if inFlight >= concurrency, let result = try await tasks.next() {
                    inFlight -= 1
                    collect(result)
                }
                let loopIndex = index % loops.count
                let mine = plan.next()
                let slow = isSlow(index)
                let loopStats = slow ? slowStats[loopIndex] : stats[loopIndex]
                let source = sources.isEmpty ? nil : sources[index % sources.count]
                let throttle = slow ? slowReadBps : nil
                let member = SwarmMember(urls: urls, first: index, eventLoop: loops[loopIndex], stats: loopStats) {
                    url, book in
                    let book = NIOLoopBound(book, eventLoop: loops[loopIndex])
                    return WebSocketConnector.connect(
                        to: url, on: loops[loopIndex], sourceAddress: source,
                        throttle: throttle, offerDeflate: deflate,
                        subprotocol: zstd ? "tickerhub.v1.zstd" : nil,
                        bearerToken: token, tls: tls
                    ) { negotiated in
                        SwarmClient(
                            symbols: mine, maxFrequency: maxFrequency, stats: loopStats, book: book.value,
                            throttle: negotiated.throttle,
                            inflater: negotiated.deflate ? try? MessageInflater(contextTakeover: true) : nil,
                            zstd: negotiated.subprotocol == "tickerhub.v1.zstd"
                                ? zstdDictionary.flatMap(ZstdMessageDecompressor.init) : nil)
                    }
                }
                tasks.addTask {
                    do {
                        try await loops[loopIndex].flatSubmit { member.start() }.get()
                        return .success(member)
                    } catch {
                        return .failure(error)
                    }
                }
                inFlight += 1
            }
            for try await result in tasks { collect(result) }
        }
        let failed = failures.values.reduce(0, +)
        log(
            String(
                format: "connected %d, failed %d in %.1fs", members.count, failed, Date().timeIntervalSince(rampStart)))
        for (reason, count) in failures.sorted(by: { $0.value > $1.value }).prefix(5) { log("  \(count)x \(reason)") }

        // 3. Warm up, then measure.
        try await Task.sleep(for: .seconds(warmup))
        _ = try await take(stats + slowStats, reset: true)
        let started = Date()
        var lastProgress = started
        while Date().timeIntervalSince(started) < duration {
            try await Task.sleep(for: .seconds(min(1, duration - Date().timeIntervalSince(started))))
            let now = Date()
            let sofar = try await take(stats + slowStats, reset: false)
            let elapsed = now.timeIntervalSince(started)
            log(
                String(
                    format: "t=%4.1fs open=%d updates=%d (%.0f/s) p50=%.2fms p99=%.2fms gaps=%d",
                    elapsed, sofar.open, sofar.updates, Double(sofar.updates) / elapsed,
                    Double(sofar.latency.valueAtPercentile(50)) / 1000,
                    Double(sofar.latency.valueAtPercentile(99)) / 1000,
                    sofar.gapMessages))
            lastProgress = now
        }
        let fast = try await take(stats, reset: false)
        let slow = try await take(slowStats, reset: false)
        let measured = lastProgress.timeIntervalSince(started)
        let window = (start: started, end: lastProgress)
        let open = Int(SwarmLoopStats.Snapshot.merged([fast, slow]).open)

        // 4. Settle: every client still open asks the hub for its counters (slow ones first drain at
        // full speed), to check the hub's drop count against the gaps each client saw.
        for member in members {
            member.eventLoop.execute {
                member.finish()
                guard let channel = member.channel, channel.isActive else { return }
                try? channel.pipeline.syncOperations.handler(type: SwarmClient.self).finish()
            }
        }
        let settleStart = Date()
        var settled = SwarmLoopStats.Snapshot.merged([fast, slow])
        while Date().timeIntervalSince(settleStart) < settle {
            settled = try await take(stats + slowStats, reset: false)
            if settled.statsReplies >= settled.open { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        let accounting = SwarmSummary.DropAccounting(
            replies: settled.statsReplies, hubDropped: settled.hubDropped,
            hubThrottled: settled.hubThrottled,
            clientGaps: settled.gapsAtStats, mismatches: settled.dropMismatches,
            hubUpstream: settled.hubUpstream)

        let summary = SwarmSummary(
            url: urls.map(\.description).joined(separator: ","), clients: clients, connected: members.count,
            failed: failed,
            stillOpen: open, symbolsPerClient: subscribe, durationSeconds: measured,
            slowClients: slowCount, slowReadBytesPerSecond: slowReadBps,
            fast: fast, slow: slow, accounting: accounting,
            configurationJSON: configurationJSON, window: window)
        print(summary.text)
        if let json {
            try summary.json.write(to: URL(fileURLWithPath: json), atomically: true, encoding: .utf8)
            log("wrote \(json)")
        }

        // 5. Close politely.
        let channels = try await withThrowingTaskGroup(of: (any Channel)?.self) { tasks in
            for member in members { tasks.addTask { try await member.eventLoop.submit { member.channel }.get() } }
            return try await tasks.reduce(into: [any Channel]()) { if let channel = $1 { $0.append(channel) } }
        }
        for channel in channels where channel.isActive {
            var code = channel.allocator.buffer(capacity: 2)
            code.write(webSocketErrorCode: .normalClosure)
            channel.writeAndFlush(WebSocketFrame.client(.connectionClose, code), promise: nil)
        }
        try? await Task.sleep(for: .milliseconds(300))
        for channel in channels { channel.close(promise: nil) }
        try await group.shutdownGracefully()
    }

    /// Every option of this run, so a result file says how it was made.
    private var configurationJSON: String {
        let configuration: [String: Any] = [
            "url": url, "clients": clients, "subscribe": subscribe, "duration": duration, "warmup": warmup,
            "spread": spread, "skew": skew, "concurrency": concurrency, "threads": threads,
            "sourceAddresses": sourceAddresses ?? "",
            "seed": seed, "slowFraction": slowFraction, "slowReadBps": slowReadBps, "deflate": deflate, "zstd": zstd,
            "settle": settle, "maxFrequency": maxFrequency.map { $0 as Any } ?? NSNull(),
        ]
        let data =
            (try? JSONSerialization.data(withJSONObject: configuration, options: [.sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    private func fetchZstdDictionary(url: WebSocketURL, id: UInt32?) async throws -> [UInt8] {
        guard let id else { throw ValidationError("the hub does not offer zstd (--zstd off?)") }
        let (data, _) = try await URLSession.shared.data(from: URL(string: "\(url.httpBase)/v1/zstd/dictionary/\(id)")!)
        log("zstd dictionary \(id): \(data.count) bytes")
        return Array(data)
    }

    /// Spreads the slow share evenly: client `i` is slow when the running count of slow clients
    /// (`i × fraction`, rounded down) steps up at `i`.
    private func isSlow(_ index: Int) -> Bool {
        Int(Double(index + 1) * slowFraction) > Int(Double(index) * slowFraction)
    }

    private func take(_ stats: [SwarmLoopStats], reset: Bool) async throws -> SwarmLoopStats.Snapshot {
        var parts: [SwarmLoopStats.Snapshot] = []
        for loopStats in stats {
            parts.append(try await loopStats.eventLoop.submit { loopStats.take(reset: reset) }.get())
        }
        return .merged(parts)
    }
}

func log(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}
