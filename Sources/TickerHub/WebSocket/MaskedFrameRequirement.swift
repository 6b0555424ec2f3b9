import NIOCore
import NIOWebSocket

/// RFC 6455 §5.1: a server MUST close the connection when a client frame is not masked. Sits right
/// after NIO's frame decoder, before the aggregator (which hands on reassembled messages without a
/// mask key, so the check cannot happen later).
final class MaskedFrameRequirement: ChannelInboundHandler, Sendable {
    typealias InboundIn = WebSocketFrame
    typealias InboundOut = WebSocketFrame

    struct UnmaskedClientFrame: Error, CustomStringConvertible {
        var description: String { "client frames must be masked" }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if unwrapInboundIn(data).maskKey == nil {
            context.fireErrorCaught(UnmaskedClientFrame())
        } else {
            context.fireChannelRead(data)
        }
    }
}
