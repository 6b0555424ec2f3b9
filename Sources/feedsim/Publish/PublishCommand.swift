import ArgumentParser
import FeedModel
import Foundation
import NIOCore
import NIOPosix
import NIOWebSocket

/// `feedsim publish`: drives a hub started with `--feed ingest`, sending simulated ticks as binary
/// batches (`BinaryTickCodec`) on `/ingest`.
struct PublishCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "publish",
        abstract: "Publish simulated ticks into a hub started with --feed ingest."
    )

    @Option(help: "Hub ingest URL.") var url = "ws://127.0.0.1:8080/ingest"
    @Option(help: "Ticks per second.") var rate = 2_000.0
    @Option(help: "Number of simulated symbols.") var symbols = 500
    @Option(help: "Stop after this many ticks (default: run until interrupted or --duration).") var count: Int?
    @Option(help: "Stop after this many seconds.") var duration: Double?
    @Option(help: "Milliseconds between batches.") var batchMs = 1
    @Option(help: "Seed of the simulated market.") var seed: UInt64 = 42
    @Option(help: "The hub's publisher credential (tickerhub --ingest-token, or an access token with a publish claim), sent as Authorization: Bearer.") var token: String?
    @Option(help: "With a wss:// URL: trust the CA certificates in this PEM file (default: the system's).") var caFile: String?

    func validate() throws {
        guard WebSocketURL(url) != nil else { throw ValidationError("--url must look like ws://host:port/path or wss://host:port/path") }
        guard rate > 0, symbols >= 1, batchMs >= 1 else { throw ValidationError("--rate, --symbols and --batch-ms must be positive") }
        if let count, count < 1 { throw ValidationError("--count must be positive") }
    }

    func run() async throws {
        let url = WebSocketURL(url)!
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let tls = url.isSecure ? try ClientTLS.context(caFile: caFile) : nil
        let channel = try await WebSocketConnector.connect(to: url, on: loop, bearerToken: token, tls: tls) { _ in PublisherConnection() }.get()
        log("publishing to \(url) at \(Int(rate)) ticks/s over \(symbols) symbols" + (count.map { ", \($0) ticks" } ?? ""))

        let publisher = TickPump(channel: channel, symbols: symbols, seed: seed, rate: rate, limit: count)
        let started = Date()
        let task = loop.scheduleRepeatedTask(initialDelay: .milliseconds(Int64(batchMs)), delay: .milliseconds(Int64(batchMs))) { task in
            if !channel.isActive || publisher.pump() {
                publisher.finished = true
                task.cancel()
            }
        }
        var lastReport = started
        while !(try await loop.submit { publisher.finished }.get()) {
            try await Task.sleep(for: .milliseconds(200))
            if let duration, Date().timeIntervalSince(started) >= duration {
                try await loop.submit { task.cancel() }.get()
                break
            }
            if Date().timeIntervalSince(lastReport) >= 1 {
                lastReport = Date()
                let sent = try await loop.submit { publisher.sent }.get()
                log(String(format: "t=%4.1fs sent=%d (%.0f/s)", lastReport.timeIntervalSince(started), sent,
                           Double(sent) / lastReport.timeIntervalSince(started)))
            }
        }
        let sent = try await loop.submit { publisher.sent }.get()
        // Close politely and wait for the hub's answer, so every batch is read before we go.
        var code = channel.allocator.buffer(capacity: 2)
        code.write(webSocketErrorCode: .normalClosure)
        try? await channel.writeAndFlush(WebSocketFrame.client(.connectionClose, code))
        _ = try? await channel.closeFuture.get()
        print(String(format: "published %d ticks in %.2fs", sent, Date().timeIntervalSince(started)))
        try await group.shutdownGracefully()
    }
}

/// Generates and sends the ticks; confined to the connection's event loop.
final class TickPump: @unchecked Sendable {
    // @unchecked: only used on `channel.eventLoop`.
    private let channel: any Channel
    private var simulator: MarketSimulator
    private var schedule: RateSchedule
    private let limit: Int?
    private let started = NIODeadline.now()
    private var owed = 0
    private(set) var sent = 0
    var finished = false

    init(channel: any Channel, symbols: Int, seed: UInt64, rate: Double, limit: Int?) {
        self.channel = channel
        simulator = MarketSimulator(instruments: SymbolUniverse.instruments(count: symbols, seed: seed), seed: seed)
        schedule = RateSchedule(ticksPerSecond: rate)
        _ = schedule.ticksDue(atNanos: 0)
        self.limit = limit
    }

    /// Sends what is due; true when the limit is reached.
    func pump() -> Bool {
        owed += schedule.ticksDue(atNanos: UInt64((NIODeadline.now() - started).nanoseconds))
        if let limit { owed = min(owed, limit - sent) }
        // If the hub is not reading fast enough, hold back (the ticks stay owed) instead of buffering.
        while owed > 0, channel.isWritable {
            let batchSize = min(owed, 4096)
            let now = Timestamp.now()
            var ticks: [Tick] = []
            ticks.reserveCapacity(batchSize)
            for _ in 0..<batchSize {
                let event = simulator.next()
                ticks.append(Tick(symbol: simulator.instruments[event.instrumentIndex].symbol, seq: 0, timestamp: now, body: event.body))
            }
            var buffer = channel.allocator.buffer(capacity: batchSize * 60 + BinaryTickCodec.headerSize)
            BinaryTickCodec.encodeBatch(ticks, into: &buffer)
            channel.writeAndFlush(WebSocketFrame.client(.binary, buffer), promise: nil)
            owed -= batchSize
            sent += batchSize
        }
        if let limit { return sent >= limit }
        return false
    }
}

/// Publisher side of `/ingest`: nothing to read but pings and the closing handshake.
final class PublisherConnection: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .ping: context.writeAndFlush(wrapOutboundOut(.client(.pong, frame.data)), promise: nil)
        case .connectionClose:
            var reason = frame.data
            let code = reason.readWebSocketErrorCode()
            if code != .normalClosure { log("hub closed the connection: \(code.map { "\($0)" } ?? "-") \(reason.readString(length: reason.readableBytes) ?? "")") }
            context.close(promise: nil)
        default: break
        }
    }
}
