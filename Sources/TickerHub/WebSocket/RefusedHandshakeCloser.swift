import NIOCore
import NIOWebSocket

/// The whole life of a browser connection whose handshake the gate refused (`RefusedHandshake`): it
/// sends the Close with the refusal's code and reason as soon as the upgrade is done, reads nothing,
/// and closes the connection once the Close is written (or after a short grace, should the client
/// not read it).
final class RefusedHandshakeCloser: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private let refusal: RefusedHandshake
    /// How long the Close may wait to be written.
    static let grace = TimeAmount.seconds(2)

    init(refusal: RefusedHandshake) {
        self.refusal = refusal
    }

    func handlerAdded(context: ChannelHandlerContext) {
        var payload = context.channel.allocator.buffer(capacity: 2 + refusal.reason.utf8.count)
        payload.writeInteger(refusal.closeCode)
        payload.writeBytes(refusal.reason.utf8.prefix(123))  // a Close's reason fits 123 bytes
        let channel = context.channel
        let giveUp = context.eventLoop.scheduleTask(in: Self.grace) { channel.close(promise: nil) }
        context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: payload)))
            .whenComplete { _ in
                giveUp.cancel()
                channel.close(promise: nil)
            }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // Nothing the client says matters any more.
    }
}
