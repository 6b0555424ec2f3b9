import NIOCore
import NIOHTTP1

/// Closes a connection that does not finish its HTTP request in time: a client that opens a socket
/// and sends nothing, or its headers a byte at a time (slowloris), or a body that never ends, would
/// otherwise hold a file descriptor for as long as it likes, and enough of them lock everyone out.
///
/// The deadline runs from the connection's start, and again from the end of each request (an idle
/// keep-alive connection is held to it too). A WebSocket upgrade removes this handler: from then on
/// the session's own keep-alive rules apply. Counted in `/stats` `requestTimeouts`.
final class RequestDeadline: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart

    static let name = "tickerhub.request-deadline"

    private let timeout: TimeAmount
    private let onTimeout: @Sendable () -> Void
    private var timer: Scheduled<Void>?

    init(timeout: TimeAmount, onTimeout: @escaping @Sendable () -> Void) {
        self.timeout = timeout
        self.onTimeout = onTimeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        arm(context: context)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .end:
            // The request is complete; the next one (keep-alive) gets a deadline of its own.
            arm(context: context)
        case .head, .body:
            break
        }
        context.fireChannelRead(data)
    }

    private func arm(context: ChannelHandlerContext) {
        timer?.cancel()
        let channel = context.channel
        let onTimeout = self.onTimeout
        timer = context.eventLoop.scheduleTask(in: timeout) {
            onTimeout()
            channel.close(promise: nil)
        }
    }
}
