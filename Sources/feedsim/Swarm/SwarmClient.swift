import FanoutEngine
import FeedModel
import NIOCore
import NIOWebSocket

/// One simulated dashboard: subscribes to its symbols, then checks every update's seq against the
/// previous one for that symbol and records its latency. A slow one reads through a `ReadThrottle`.
///
/// At the end of a run, `finish()` lifts the throttle and asks the hub for this connection's
/// counters: the hub's `dropped` plus `throttled` must equal the sum of the seq gaps this client saw,
/// and the comparison is recorded in the stats.
final class SwarmClient: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private let symbols: [String]
    /// The subscribe request's `maxFrequency` (updates per second per symbol); nil asks for every update.
    private let maxFrequency: Double?
    private let stats: SwarmLoopStats
    private let throttle: ReadThrottle?
    /// Set when permessage-deflate was agreed; one stream decodes shared and dedicated messages alike.
    private let inflater: MessageInflater?
    /// Set on a `tickerhub.v1.zstd` connection: every server message is a binary zstd frame.
    private let zstd: ZstdMessageDecompressor?
    /// Last seq seen per symbol, from the snapshot and then each update: the member's, kept across
    /// its connections.
    private let book: SeqBook
    /// The code of the hub's Close frame, if it sent one (the member decides on it whether to come back).
    private(set) var closeCode: UInt16?
    /// Updates missed by seq since the connection opened (the loop stats are reset after warm-up).
    private var gapsSinceConnect: UInt64 = 0
    private var context: ChannelHandlerContext?

    init(
        symbols: [String], maxFrequency: Double? = nil, stats: SwarmLoopStats, book: SeqBook = SeqBook(),
        throttle: ReadThrottle? = nil,
        inflater: MessageInflater? = nil, zstd: ZstdMessageDecompressor? = nil
    ) {
        self.symbols = symbols
        self.book = book
        self.maxFrequency = maxFrequency
        self.stats = stats
        self.throttle = throttle
        self.inflater = inflater
        self.zstd = zstd
    }

    /// Stops throttling and asks the hub for this connection's counters. Call on the loop.
    func finish() {
        throttle?.release()
        guard let context else { return }
        context.writeAndFlush(
            wrapOutboundOut(.client(.text, ByteBuffer(string: ClientRequests.stats(id: 2)))), promise: nil)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        let request = ClientRequests.subscribe(id: 1, symbols: symbols, maxFrequency: maxFrequency)
        context.writeAndFlush(wrapOutboundOut(.client(.text, ByteBuffer(string: request))), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .text:
            let now = Timestamp.now().nanosecondsSinceEpoch
            stats.bytes &+= UInt64(frame.data.readableBytes)
            var text = frame.data
            if frame.rsv1 {
                guard let inflater,
                    let inflated = try? inflater.inflate(
                        frame.data, limit: 1 << 20, allocator: context.channel.allocator)
                else {
                    stats.errors &+= 1
                    return
                }
                text = inflated
            }
            text.withUnsafeReadableBytes { record(UpdateScanner.scan($0), receivedAt: now) }
        case .binary:
            let now = Timestamp.now().nanosecondsSinceEpoch
            stats.bytes &+= UInt64(frame.data.readableBytes)
            guard let zstd, let text = zstd.decompress(frame.data, limit: 1 << 20, allocator: context.channel.allocator)
            else {
                stats.errors &+= 1
                return
            }
            text.withUnsafeReadableBytes { record(UpdateScanner.scan($0), receivedAt: now) }
        case .ping:
            context.writeAndFlush(wrapOutboundOut(.client(.pong, frame.data)), promise: nil)
        case .connectionClose:
            stats.closedByServer &+= 1
            var data = frame.unmaskedData
            let code = data.readWebSocketErrorCode()
            closeCode = code.map { UInt16(webSocketErrorCode: $0) } ?? CloseCode.noStatusReceived.rawValue
            if closeCode == CloseCode.slowConsumer.rawValue { stats.evicted &+= 1 }
            context.close(promise: nil)
        default:
            break
        }
    }

    private func record(_ message: ScannedMessage, receivedAt now: UInt64) {
        switch message.kind {
        case .quote, .trade, .conflated:
            stats.updates &+= 1
            if message.kind == .conflated { stats.conflated &+= 1 }
            if now > message.ts {
                _ = stats.latency.record((now - message.ts) / 1_000)
            } else {
                _ = stats.latency.record(0)
            }
            if let last = book.lastSeq[message.symbolHash], message.seq != last + 1 {
                if message.seq > last + 1 {
                    stats.gapMessages &+= message.seq - last - 1
                    stats.gapEvents &+= 1
                    gapsSinceConnect &+= message.seq - last - 1
                } else {
                    stats.seqRegressions &+= 1  // a repeat or a step back: the hub broke its contract
                }
            }
            book.lastSeq[message.symbolHash] = message.seq
        case .snapshot:
            stats.snapshots &+= 1
            // After a reconnect: what changed while this member was away shows in the seq.
            if let last = book.lastSeq[message.symbolHash], message.seq > last + 1 {
                stats.failoverGaps &+= message.seq - last - 1
            }
            book.lastSeq[message.symbolHash] = message.seq
        case .welcome:
            if let epoch = book.epoch, epoch != message.symbolHash {
                // A new numbering: the old seqs say nothing about what was missed.
                book.lastSeq.removeAll()
                stats.epochChanges &+= 1
            }
            book.epoch = message.symbolHash
        case .status:
            stats.statusMessages &+= 1
        case .stats:
            stats.statsReplies &+= 1
            stats.hubDropped &+= message.seq
            stats.hubThrottled &+= message.throttled
            stats.hubUpstream &+= message.upstream
            stats.gapsAtStats &+= gapsSinceConnect
            if message.seq &+ message.throttled &+ message.upstream != gapsSinceConnect { stats.dropMismatches &+= 1 }
        case .heartbeat:
            stats.heartbeats &+= 1
        case .error:
            stats.errors &+= 1
        case .ack, .other:
            break
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

/// Client → hub request texts.
enum ClientRequests {
    static func subscribe(id: Int, symbols: [String], maxFrequency: Double? = nil) -> String {
        let list = symbols.map { "\"\($0)\"" }.joined(separator: ",")
        let frequency = maxFrequency.map { #","maxFrequency":\#($0)"# } ?? ""
        return #"{"op":"subscribe","id":\#(id),"symbols":[\#(list)]\#(frequency)}"#
    }

    /// Symbol names are validated by the hub's rules (capitals, digits, `.`, `-`, `_`, `/`), none of
    /// which needs escaping in JSON.
    static func list(id: Int, after: String? = nil) -> String {
        guard let after else { return #"{"op":"list","id":\#(id)}"# }
        return #"{"op":"list","id":\#(id),"after":"\#(after)"}"#
    }

    static func stats(id: Int) -> String { #"{"op":"stats","id":\#(id)}"# }
}
