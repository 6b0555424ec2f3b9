import Foundation
import NIOCore
import NIOWebSocket

/// A short-lived connection that asks the hub for its symbols with `{"op":"list"}`, page by page.
final class SymbolLister: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private struct Reply: Decodable {
        var type: String
        var symbols: [String]?
        var next: String?
        var zstdDictionary: UInt32?
    }

    /// What the hub said: its symbols, and its zstd dictionary id (from `welcome`) if it offers zstd.
    struct Listing: Sendable {
        var symbols: [String]
        var zstdDictionary: UInt32?
    }

    private let result: EventLoopPromise<Listing>
    private var zstdDictionary: UInt32?
    private var symbols: [String] = []

    init(result: EventLoopPromise<Listing>) {
        self.result = result
    }

    func handlerAdded(context: ChannelHandlerContext) {
        context.writeAndFlush(
            wrapOutboundOut(.client(.text, ByteBuffer(string: ClientRequests.list(id: 1)))), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        guard frame.opcode == .text,
            let reply = try? JSONDecoder().decode(Reply.self, from: Data(frame.data.readableBytesView))
        else { return }
        if reply.type == "welcome" { zstdDictionary = reply.zstdDictionary }
        guard reply.type == "symbols", let page = reply.symbols else { return }
        symbols += page
        if let next = reply.next {
            context.writeAndFlush(
                wrapOutboundOut(.client(.text, ByteBuffer(string: ClientRequests.list(id: 1, after: next)))),
                promise: nil)
            return
        }
        result.succeed(Listing(symbols: symbols, zstdDictionary: zstdDictionary))
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        result.fail(ChannelError.ioOnClosedChannel)
    }
}
