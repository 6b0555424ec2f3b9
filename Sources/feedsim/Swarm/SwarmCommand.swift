import ArgumentParser
import Foundation
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

    @Option(help: "Hub WebSocket URL.") var url = "ws://127.0.0.1:8080/ws"
    @Option(help: "Number of subscriber connections.") var clients = 1_000
    @Option(help: "Symbols per client.") var subscribe = 10
    @Option(help: "Measured duration in seconds (after all clients connected).") var duration = 10.0
    @Option(help: "Seconds to run before measuring (latency from connection set-up is excluded).") var warmup = 2.0
    @Option(help: "Zipf exponent of symbol popularity; 0 is uniform.") var skew = 1.0
    @Option(help: "Connections opened concurrently while ramping up.") var concurrency = 256
    @Option(help: "Client event-loop threads (default: cores).") var threads = System.coreCount
    @Option(help: "Comma-separated local source addresses (e.g. 127.0.0.2) to spread connections over, past ~28k.") var sourceAddresses: String?
    @Option(help: "Seed for symbol choice.") var seed: UInt64 = 7
    @Option(help: "Write the summary as JSON to this file.") var json: String?

    func validate() throws {
        guard WebSocketURL(url) != nil else { throw ValidationError("--url must look like ws://host:port/path") }
        guard clients >= 1, subscribe >= 1, duration > 0, concurrency >= 1, threads >= 1 else {
            throw ValidationError("--clients, --subscribe, --duration, --concurrency and --threads must be positive")
        }
    }

    func run() async throws {
        let url = WebSocketURL(url)!
        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        let loops = Array(group.makeIterator())
        let stats = loops.map { SwarmLoopStats(eventLoop: $0) }
        let sources = try (sourceAddresses?.split(separator: ",") ?? []).map { try SocketAddress(ipAddress: String($0), port: 0) }

        // 1. Ask the hub what it publishes.
        let listed = loops[0].makePromise(of: [String].self)
        _ = try await WebSocketConnector.connect(to: url, on: loops[0]) { SymbolLister(result: listed) }.get()
        let symbols = try await listed.futureResult.get()
        log("hub lists \(symbols.count) symbols; connecting \(clients) clients x \(subscribe) symbols")

        // 2. Connect with bounded concurrency.
        var plan = SubscriptionPlan(symbols: symbols, perClient: subscribe, skew: skew, seed: seed)
        let rampStart = Date()
        var channels: [any Channel] = []
        var failures: [String: Int] = [:]
        try await withThrowingTaskGroup(of: Result<any Channel, any Error>.self) { tasks in
            var inFlight = 0
            func collect(_ result: Result<any Channel, any Error>) {
                switch result {
                case .success(let channel): channels.append(channel)
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
                let loopStats = stats[loopIndex]
                let source = sources.isEmpty ? nil : sources[index % sources.count]
                tasks.addTask {
                    do {
                        let channel = try await WebSocketConnector.connect(to: url, on: loops[loopIndex], sourceAddress: source) {
                            SwarmClient(symbols: mine, stats: loopStats)
                        }.get()
                        return .success(channel)
                    } catch {
                        return .failure(error)
                    }
                }
                inFlight += 1
            }
            for try await result in tasks { collect(result) }
        }
        let failed = failures.values.reduce(0, +)
        log(String(format: "connected %d, failed %d in %.1fs", channels.count, failed, Date().timeIntervalSince(rampStart)))
        for (reason, count) in failures.sorted(by: { $0.value > $1.value }).prefix(5) { log("  \(count)x \(reason)") }

        // 3. Warm up, then measure.
        try await Task.sleep(for: .seconds(warmup))
        _ = try await take(stats, reset: true)
        let started = Date()
        var lastProgress = started
        while Date().timeIntervalSince(started) < duration {
            try await Task.sleep(for: .seconds(min(1, duration - Date().timeIntervalSince(started))))
            let now = Date()
            let sofar = try await take(stats, reset: false)
            let elapsed = now.timeIntervalSince(started)
            log(String(format: "t=%4.1fs open=%d updates=%d (%.0f/s) p50=%.2fms p99=%.2fms gaps=%d",
                       elapsed, channels.filter(\.isActive).count, sofar.updates, Double(sofar.updates) / elapsed,
                       Double(sofar.latency.valueAtPercentile(50)) / 1000, Double(sofar.latency.valueAtPercentile(99)) / 1000,
                       sofar.gapMessages))
            lastProgress = now
        }
        let total = try await take(stats, reset: false)
        let measured = lastProgress.timeIntervalSince(started)
        let open = channels.filter(\.isActive).count

        let summary = SwarmSummary(url: url.description, clients: clients, connected: channels.count, failed: failed,
                                   stillOpen: open, symbolsPerClient: subscribe, durationSeconds: measured, totals: total)
        print(summary.text)
        if let json {
            try summary.json.write(to: URL(fileURLWithPath: json), atomically: true, encoding: .utf8)
            log("wrote \(json)")
        }

        // 4. Close politely.
        for channel in channels where channel.isActive {
            var code = channel.allocator.buffer(capacity: 2)
            code.write(webSocketErrorCode: .normalClosure)
            channel.writeAndFlush(WebSocketFrame.client(.connectionClose, code), promise: nil)
        }
        try? await Task.sleep(for: .milliseconds(300))
        for channel in channels { channel.close(promise: nil) }
        try await group.shutdownGracefully()
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

/// The swarm's result, as text for people and JSON for the benchmark harness.
struct SwarmSummary {
    var url: String
    var clients, connected, failed, stillOpen, symbolsPerClient: Int
    var durationSeconds: Double
    var totals: SwarmLoopStats.Snapshot

    private func ms(_ percentile: Double) -> Double { Double(totals.latency.valueAtPercentile(percentile)) / 1000 }
    var rate: Double { durationSeconds > 0 ? Double(totals.updates) / durationSeconds : 0 }

    var text: String {
        """
        swarm summary (\(url))
          clients        \(clients) requested, \(connected) connected, \(failed) failed, \(stillOpen) open at end
          subscriptions  \(symbolsPerClient) symbols per client
          measured       \(String(format: "%.1f", durationSeconds)) s
          updates        \(totals.updates) (\(String(format: "%.0f", rate)) messages/s), \(totals.snapshots) snapshots, \(totals.heartbeats) heartbeats
          bytes          \(totals.bytes) (\(String(format: "%.1f", Double(totals.bytes) / max(durationSeconds, 0.001) / 1_048_576)) MiB/s)
          latency ms     p50 \(fmt(ms(50)))  p90 \(fmt(ms(90)))  p99 \(fmt(ms(99)))  p99.9 \(fmt(ms(99.9)))  max \(fmt(Double(totals.latency.max) / 1000))
          seq gaps       \(totals.gapMessages) missed updates in \(totals.gapEvents) jumps
          errors         \(totals.errors) error messages, \(totals.closedByServer) closed by server
        """
    }

    var json: String {
        """
        {"url":"\(url)","clients":\(clients),"connected":\(connected),"failed":\(failed),"openAtEnd":\(stillOpen),\
        "symbolsPerClient":\(symbolsPerClient),"durationSeconds":\(fmt(durationSeconds)),"updates":\(totals.updates),\
        "messagesPerSecond":\(fmt(rate)),"snapshots":\(totals.snapshots),"heartbeats":\(totals.heartbeats),"bytes":\(totals.bytes),\
        "latencyMs":{"p50":\(fmt(ms(50))),"p90":\(fmt(ms(90))),"p99":\(fmt(ms(99))),"p999":\(fmt(ms(99.9))),"max":\(fmt(Double(totals.latency.max) / 1000))},\
        "gapMessages":\(totals.gapMessages),"gapEvents":\(totals.gapEvents),"errors":\(totals.errors),"closedByServer":\(totals.closedByServer)}
        """
    }

    private func fmt(_ value: Double) -> String { String(format: "%.3f", value) }
}
