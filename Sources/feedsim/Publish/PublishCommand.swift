import ArgumentParser
import FeedModel
import Foundation
import NIOCore
import Synchronization
import NIOPosix
import NIOWebSocket
import NATSClient

/// `feedsim publish`: drives a hub started with `--feed ingest`, sending simulated ticks as binary
/// batches (`BinaryTickCodec`) on `/ingest`.
struct PublishCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "publish",
        abstract:
            """
            Publish simulated ticks into a hub started with --feed ingest, or to NATS (--nats) for hubs started\
             with --feed nats://...
            """
    )

    @Option(help: "Hub ingest URL.") var url = "ws://127.0.0.1:8080/ingest"
    @Option(help: "With --nats: the token the NATS servers require (nats-server --auth).") var natsToken: String?
    @Option(
        help:
            """
            Publish to NATS instead (comma-separated server URLs, nats://host:port): one message per tick on\
             ticks.<SYMBOL>, numbered here, for hubs started with --feed nats://...
            """
    ) var nats: String?
    @Option(help: "Ticks per second.") var rate = 2_000.0
    @Option(help: "Number of simulated symbols.") var symbols = 500
    @Option(help: "Stop after this many ticks (default: run until interrupted or --duration).") var count: Int?
    @Option(help: "Stop after this many seconds.") var duration: Double?
    @Option(help: "Milliseconds between batches.") var batchMs = 1
    @Option(help: "Seed of the simulated market.") var seed: UInt64 = 42
    @Option(
        help:
            """
            The hub's publisher credential (tickerhub --ingest-token, or an access token with a publish claim),\
             sent as Authorization: Bearer.
            """
    ) var token: String?
    @Option(help: "With a wss:// URL: trust the CA certificates in this PEM file (default: the system's).") var caFile:
        String?
    @Flag(
        help:
            """
            Also publish each symbol's order book: the whole opening books, then every tick's change to its book\
             (binary book records, numbered per symbol; on NATS, on books.<SYMBOL>).
            """
    ) var books = false

    func validate() throws {
        if let nats {
            guard nats.split(separator: ",").allSatisfy({ NATSClient.isValidServerURL(String($0)) }) else {
                throw ValidationError(
                    "--nats takes NATS server URLs, comma-separated: nats://host:port[,nats://host:port...]")
            }
        }
        guard WebSocketURL(url) != nil else {
            throw ValidationError("--url must look like ws://host:port/path or wss://host:port/path")
        }
        guard rate > 0, symbols >= 1, batchMs >= 1 else {
            throw ValidationError("--rate, --symbols and --batch-ms must be positive")
        }
        if let count, count < 1 { throw ValidationError("--count must be positive") }
    }

    func run() async throws {
        if let nats {
            return try await NATSTickPublishing(
                servers: nats.split(separator: ",").map(String.init), symbols: symbols, seed: seed,
                rate: rate, limit: count, duration: duration, batchMilliseconds: batchMs,
                token: natsToken, books: books
            ).run()
        }
        let url = WebSocketURL(url)!
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let tls = url.isSecure ? try ClientTLS.context(caFile: caFile) : nil
        let refusal = HubRefusal()
        let channel = try await WebSocketConnector.connect(to: url, on: loop, bearerToken: token, tls: tls) { _ in
            PublisherConnection(refusal: refusal)
        }.get()
        log(
            "publishing to \(url) at \(Int(rate)) ticks/s over \(symbols) symbols"
                + (count.map { ", \($0) ticks" } ?? ""))

        let publisher = TickPump(channel: channel, symbols: symbols, seed: seed, rate: rate, limit: count, books: books)
        let started = Date()
        let task = loop.scheduleRepeatedTask(
            initialDelay: .milliseconds(Int64(batchMs)), delay: .milliseconds(Int64(batchMs))
        ) { task in
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
                log(
                    String(
                        format: "t=%4.1fs sent=%d (%.0f/s)", lastReport.timeIntervalSince(started), sent,
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
        // A hub that closed the publisher with an error refused something: a script must see it.
        if refusal.closeCode != nil { throw ExitCode(3) }
    }
}

/// Generates and sends the ticks on `/ingest`; confined to the connection's event loop.
final class TickPump: @unchecked Sendable {
    // @unchecked: only used on `channel.eventLoop`.
    fileprivate let channel: any Channel
    private var ticks: SimulatedTicks
    var sent: Int { ticks.generated }
    var finished = false

    private var openingBooks: [BookRecord]

    init(channel: any Channel, symbols: Int, seed: UInt64, rate: Double, limit: Int?, books: Bool) {
        self.channel = channel
        ticks = SimulatedTicks(symbols: symbols, seed: seed, rate: rate, limit: limit, books: books)
        openingBooks = ticks.openingBooks()
        instruments = ticks.instruments
    }

    /// The instruments' details, sent before anything else.
    private var instruments: [InstrumentRecord]

    /// Sends what is due; true when the limit is reached.
    func pump() -> Bool {
        ticks.accrue()
        // First the details, then the whole books (up to ~80 levels of 16 bytes each, so a few per message).
        sendOnce(&instruments, perMessage: 1024) { BinaryTickCodec.encodeBatch([Tick](), instruments: $0, into: &$1) }
        sendOnce(&openingBooks, perMessage: 64) { BinaryTickCodec.encodeBatch([Tick](), books: $0, into: &$1) }
        // If the hub is not reading fast enough, hold back (the ticks stay owed) instead of buffering.
        while ticks.owed > 0, channel.isWritable {
            // seq 0: the hub numbers the ticks (the books carry their own).
            let batch = ticks.take(2048, numbered: false)
            var buffer = channel.allocator.buffer(capacity: batch.count * 90 + BinaryTickCodec.headerSize)
            BinaryTickCodec.encodeBatch(batch.ticks, books: batch.books, into: &buffer)
            channel.writeAndFlush(WebSocketFrame.client(.binary, buffer), promise: nil)
        }
        return ticks.reachedLimit
    }
}

extension TickPump {
    /// Sends `records` (if any are left) in messages of `perMessage`, then forgets them.
    fileprivate func sendOnce<Record>(
        _ records: inout [Record], perMessage: Int,
        encode: (ArraySlice<Record>, inout ByteBuffer) -> Void
    ) {
        guard !records.isEmpty else { return }
        for part in stride(from: 0, to: records.count, by: perMessage) {
            var buffer = channel.allocator.buffer(capacity: 16 * 1024)
            encode(records[part..<min(part + perMessage, records.count)], &buffer)
            channel.write(WebSocketFrame.client(.binary, buffer), promise: nil)
        }
        channel.flush()
        records = []
    }
}

/// The close code the hub ended the publisher with, if it was not a normal closure (written on the
/// connection's loop, read by the command once the connection is closed).
final class HubRefusal: Sendable {
    private let code = Mutex<UInt16?>(nil)
    var closeCode: UInt16? {
        get { code.withLock { $0 } }
        set { code.withLock { $0 = newValue } }
    }
}

/// Publisher side of `/ingest`: nothing to read but pings and the closing handshake.
final class PublisherConnection: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private let refusal: HubRefusal

    init(refusal: HubRefusal) {
        self.refusal = refusal
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .ping: context.writeAndFlush(wrapOutboundOut(.client(.pong, frame.data)), promise: nil)
        case .connectionClose:
            var reason = frame.data
            let code = reason.readWebSocketErrorCode()
            if let code, code != .normalClosure {
                refusal.closeCode = UInt16(webSocketErrorCode: code)
                log(
                    """
                    hub closed the connection with \(UInt16(webSocketErrorCode: code)) (\(code)):\
                     \(reason.readString(length: reason.readableBytes) ?? "")
                    """
                )
            }
            context.close(promise: nil)
        default: break
        }
    }
}
