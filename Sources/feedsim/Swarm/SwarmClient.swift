import FeedModel
import NIOCore
import NIOWebSocket

/// One simulated dashboard: subscribes to its symbols, then checks every update's seq against the
/// previous one for that symbol and records its latency.
final class SwarmClient: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private let symbols: [String]
    private let stats: SwarmLoopStats
    /// Last seq seen per symbol (by symbol hash), from the snapshot and then each update.
    private var lastSeq: [UInt64: UInt64] = [:]

    init(symbols: [String], stats: SwarmLoopStats) {
        self.symbols = symbols
        self.stats = stats
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let request = ClientRequests.subscribe(id: 1, symbols: symbols)
        context.writeAndFlush(wrapOutboundOut(.client(.text, ByteBuffer(string: request))), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .text:
            let now = Timestamp.now().nanosecondsSinceEpoch
            stats.bytes &+= UInt64(frame.data.readableBytes)
            frame.data.withUnsafeReadableBytes { record(UpdateScanner.scan($0), receivedAt: now) }
        case .ping:
            context.writeAndFlush(wrapOutboundOut(.client(.pong, frame.data)), promise: nil)
        case .connectionClose:
            stats.closedByServer &+= 1
            context.close(promise: nil)
        default:
            break
        }
    }

    private func record(_ message: ScannedMessage, receivedAt now: UInt64) {
        switch message.kind {
        case .quote, .trade:
            stats.updates &+= 1
            if now > message.ts { _ = stats.latency.record((now - message.ts) / 1_000) } else { _ = stats.latency.record(0) }
            if let last = lastSeq[message.symbolHash], message.seq != last + 1 {
                if message.seq > last + 1 {
                    stats.gapMessages &+= message.seq - last - 1
                    stats.gapEvents &+= 1
                }
            }
            lastSeq[message.symbolHash] = message.seq
        case .snapshot:
            stats.snapshots &+= 1
            lastSeq[message.symbolHash] = message.seq
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
    static func subscribe(id: Int, symbols: [String]) -> String {
        let list = symbols.map { "\"\($0)\"" }.joined(separator: ",")
        return #"{"op":"subscribe","id":\#(id),"symbols":[\#(list)]}"#
    }

    static func list(id: Int) -> String { #"{"op":"list","id":\#(id)}"# }
}
