import NIOCore
import NIOWebSocket

/// What every WebSocket handler at the end of a NIO pipeline (`IngestSession`, and
/// `SessionChannelHandler` carrying a subscriber's or the echo's session) does with an error from its
/// pipeline, in one place: NIO's frame decoder and `MessageAssembler` report a client's malformed
/// frames as errors, and those close the connection with their RFC 6455 code, logged and counted
/// by the session as a violation; any other error (a reset, a broken pipe) only closes the channel,
/// and the session's own close bookkeeping runs as it is removed.
protocol WebSocketSession: ChannelInboundHandler {
    /// Closes the connection for a protocol violation with `code`, logged and counted the session's way.
    func violation(context: ChannelHandlerContext, code: WebSocketErrorCode, reason: String)
}

extension WebSocketSession {
    /// The pongs `WebSocketControl` wrote for this read burst go out in one write. (A session with
    /// its own `channelReadComplete` flushes there.)
    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
        context.fireChannelReadComplete()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let code = CloseHandshake.closeCode(for: error) {
            violation(context: context, code: code, reason: "\(error)")
        } else {
            context.close(promise: nil)
        }
    }
}
