import NIOCore
import NIOWebSocket

/// The control plane every WebSocket session of the hub shares (subscriber, ingest, echo), kept in
/// one place so that the three cannot drift apart: a ping is answered with a pong (written now,
/// flushed by the session when the read burst ends), the peer's Close
/// is answered with the code RFC 6455 §5.5.1 asks for, we send one Close and nothing after it, and
/// frames that arrive after our Close are ignored.
///
/// A value each session holds, not a pipeline handler of its own: a handler costs a context and
/// itself (~150 bytes) on every connection, and connections are what the hub has most of.
///
/// It follows the fan-out's re-entrancy rule (`LoopFanout`): no method writes while it holds
/// mutable access to the value, since a failed write closes the channel and the session reads
/// `closeSent` from its handlers. So `receive` does not mutate, and closing is two steps: the
/// session marks it (`markCloseSent`), then sends it (`CloseHandshake.send`), holding no access
/// to this value while it writes.
struct WebSocketControl {
    /// What the session does with an inbound frame.
    enum Inbound {
        /// A text or binary message, for the session.
        case message(WebSocketFrame)
        /// A ping: answer with a pong carrying `payload` (flushed when the read burst ends).
        case ping(payload: ByteBuffer)
        /// The peer answered our ping: a sign of life.
        case pong
        /// Nothing more to do (a ping answered, or a frame after our Close ignored).
        case handled
        /// The peer sent Close: the session closes with `reply`, after its own bookkeeping.
        case peerClosed(reply: WebSocketErrorCode)
        /// A reserved opcode: a protocol violation, closed with 1002 by the session (which logs and
        /// counts it its own way).
        case violation(reason: String)
    }

    private(set) var closeSent = false

    /// What a frame asks for, on any transport: a ping is `.ping` with the payload its pong must
    /// carry, to be written by the caller (`receive` does it in a NIO pipeline).
    func classify(_ frame: WebSocketFrame) -> Inbound {
        switch frame.opcode {
        case .text, .binary:
            return closeSent ? .handled : .message(frame)
        case .ping:
            // Nothing may follow our Close (§5.5.1), pongs included; and a peer that keeps pinging
            // without reading must not grow our queue during the close grace.
            return closeSent ? .handled : .ping(payload: frame.unmaskedData)
        case .pong:
            return .pong
        case .connectionClose:
            // Our Close already went: this is the peer's answer, and the TCP close follows it.
            return closeSent ? .handled : .peerClosed(reply: CloseHandshake.replyCode(to: frame))
        default:
            // Continuations never get here (`MessageAssembler` merges them): a reserved opcode.
            return closeSent ? .handled : .violation(reason: "unexpected opcode")
        }
    }

    /// `classify` in a NIO pipeline, with the pong written (a ping comes back as `.handled`).
    func receive(_ frame: WebSocketFrame, context: ChannelHandlerContext) -> Inbound {
        let inbound = classify(frame)
        guard case .ping(let payload) = inbound else { return inbound }
        // Flushed once per read burst (`WebSocketSession.channelReadComplete`), not per ping:
        // a burst of pings is one socket write, not one each.
        context.write(NIOAny(WebSocketFrame(fin: true, opcode: .pong, data: payload)), promise: nil)
        return .handled
    }

    /// Step one of closing: true if our Close is still to be sent (the caller then sends it with
    /// `CloseHandshake.send`), false if it went already.
    mutating func markCloseSent() -> Bool {
        guard !closeSent else { return false }
        closeSent = true
        return true
    }
}
