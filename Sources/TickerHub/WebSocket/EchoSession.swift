import FanoutEngine
import NIOCore
import NIOWebSocket

/// The conformance listener's connection (`--echo-port`): every text or binary message comes back
/// as it arrived, compressed again if permessage-deflate was agreed. It shares the `/ws` frame
/// handling (`MessageAssembler`, `CloseHandshake`, the negotiation), which is
/// what conformance suites such as Autobahn exercise; it has nothing to do with market data.
///
/// Backpressure: while the echoes are not taken off the socket (the channel is not writable), the
/// session reads no more, so a peer that sends without reading is slowed by TCP instead of growing
/// the hub's memory by up to 32 MiB a message.
final class EchoSession: WebSocketSession, ChannelOutboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame
    /// A read the session held back while the channel was not writable.
    private var readHeld = false

    private let deflater: MessageDeflater?
    private var control = WebSocketControl()
    /// `HubConfiguration.closeGrace`.
    private let closeGrace: TimeAmount

    init(deflater: MessageDeflater?, closeGrace: TimeAmount) {
        self.deflater = deflater
        self.closeGrace = closeGrace
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch control.receive(unwrapInboundIn(data), context: context) {
        case .message(let frame):
            if frame.opcode == .text, String(validating: frame.unmaskedData.readableBytesView, as: UTF8.self) == nil {
                return violation(context: context, code: .dataInconsistentWithMessage, reason: "invalid UTF-8")
            }
            context.writeAndFlush(wrapOutboundOut(echo(frame)), promise: nil)
        case .pong, .handled, .ping:  // `receive` has written the pong of a ping
            break
        case .peerClosed(let reply):
            close(context: context, code: reply)
        case .violation(let reason):
            violation(context: context, code: .protocolError, reason: reason)
        }
    }

    func read(context: ChannelHandlerContext) {
        guard context.channel.isWritable || control.closeSent else {
            readHeld = true
            return
        }
        context.read()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable, readHeld {
            readHeld = false
            context.read()
        }
        context.fireChannelWritabilityChanged()
    }

    private func echo(_ frame: WebSocketFrame) -> WebSocketFrame {
        let data = frame.unmaskedData
        // A message may always go uncompressed (RFC 7692 §6), so a failure here is not fatal.
        if let deflater, let compressed = try? deflater.compress(data) {
            return WebSocketFrame(fin: true, rsv1: true, opcode: frame.opcode, data: compressed)
        }
        return WebSocketFrame(fin: true, opcode: frame.opcode, data: data)
    }

    func violation(context: ChannelHandlerContext, code: WebSocketErrorCode, reason: String) {
        close(context: context, code: code)
    }

    private func close(context: ChannelHandlerContext, code: WebSocketErrorCode) {
        guard control.markCloseSent() else { return }
        CloseHandshake.send(code: code, reason: "", context: context, grace: closeGrace)
    }
}
