import FeedModel
import NIOCore
import NIOWebSocket

extension CloseCode {
    /// NIO's value of this code.
    var webSocketErrorCode: WebSocketErrorCode { WebSocketErrorCode(codeNumber: Int(rawValue)) }
}

/// Ending a WebSocket connection the RFC 6455 way: one close frame with a status code and a short
/// reason; once it is written, the sending half of the TCP connection is shut (FIN), and the whole
/// connection is closed when the peer closes its side (after its own Close) or after `grace`.
///
/// Why half-close first: a peer may still be sending when we close (a client flooding requests,
/// say). Closing the socket with its bytes unread makes the kernel answer with a reset, and a
/// reset can overtake our Close frame, so the client never learns the code. Shutting only our
/// side, and reading (and ignoring) what still arrives, lets the Close reach it.
enum CloseHandshake {
    /// Close reasons must fit a control frame: 125 bytes minus the 2-byte code.
    static let maxReasonBytes = 123

    static func send(
        code: WebSocketErrorCode, reason: String, context: ChannelHandlerContext,
        grace: TimeAmount
    ) {
        send(payload(code: code, reason: reason, allocator: context.channel.allocator), context: context, grace: grace)
    }

    /// A Close frame's payload: the code, then as much of `reason` as fits, cut between characters.
    static func payload(code: WebSocketErrorCode, reason: String, allocator: ByteBufferAllocator) -> ByteBuffer {
        var data = allocator.buffer(capacity: 2 + maxReasonBytes)
        data.write(webSocketErrorCode: code)
        var reasonBytes = Array(reason.utf8.prefix(maxReasonBytes))
        // Do not cut a UTF-8 sequence in half.
        while String(validating: reasonBytes, as: UTF8.self) == nil { reasonBytes.removeLast() }
        data.writeBytes(reasonBytes)
        return data
    }

    /// `send` with the payload built: in a NIO pipeline.
    static func send(_ payload: ByteBuffer, context: ChannelHandlerContext, grace: TimeAmount) {
        let channel = context.channel
        let frame = WebSocketFrame(fin: true, opcode: .connectionClose, data: payload)
        context.writeAndFlush(NIOAny(frame)).whenComplete { result in
            switch result {
            case .success: channel.close(mode: .output, promise: nil)
            case .failure: channel.close(promise: nil)
            }
        }
        channel.eventLoop.scheduleTask(in: grace) { channel.close(promise: nil) }
    }

    /// The close code for a protocol error in a client's frames: one NIO's frame decoder raises (a
    /// frame over the size limit, a fragmented or oversized control frame), or a message that cannot
    /// be assembled (`MessageAssembler`). The sessions answer them themselves rather than through
    /// NIO's `WebSocketProtocolErrorHandler`, so each connection carries one handler less and the
    /// close is logged and counted like the others.
    static func closeCode(for error: any Error) -> WebSocketErrorCode? {
        if let failure = error as? MessageAssembler.Failure { return failure.closeCode }
        if let frameError = error as? NIOWebSocketError {
            switch frameError {
            case .invalidFrameLength: return .messageTooLarge
            case .fragmentedControlFrame, .multiByteControlFrameLength: return .protocolError
            }
        }
        return nil
    }

    /// The code to answer a peer's close frame with (RFC 6455 §5.5.1): its own code echoed, 1000 for
    /// an empty close, 1002 for an invalid code or a 1-byte body, 1007 for a reason that is not UTF-8.
    static func replyCode(to frame: WebSocketFrame) -> WebSocketErrorCode {
        var data = frame.unmaskedData
        if data.readableBytes == 1 { return .protocolError }
        guard let received = data.readWebSocketErrorCode() else { return .normalClosure }
        guard isValidReceived(received) else { return .protocolError }
        guard String(validating: data.readableBytesView, as: UTF8.self) != nil else {
            return .dataInconsistentWithMessage
        }
        return received
    }

    /// Which close codes a peer may send (RFC 6455 §7.4).
    static func isValidReceived(_ code: WebSocketErrorCode) -> Bool {
        switch UInt16(webSocketErrorCode: code) {
        case 1000...1003, 1007...1011, 3000...4999: return true
        default: return false
        }
    }
}
