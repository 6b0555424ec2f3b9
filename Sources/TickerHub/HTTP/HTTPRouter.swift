import NIOCore
import NIOHTTP1

/// Answers plain HTTP requests with `HTTPRoutes`. Request bodies are ignored (every route is a GET).
/// Removed from the pipeline when a request upgrades to WebSocket.
///
/// Backpressure: NIO's pipelining handler passes on the next pipelined request as soon as the
/// previous answer is *written*, not sent. A client that pipelines requests and reads nothing would
/// have every answer queued in the hub. So a request that completes while the connection's unsent
/// answers are past the high-water mark (`--max-backlog-bytes`: the channel is not writable) waits
/// here, unanswered, until they drain below the low mark; meanwhile NIO reads no further (its
/// handler holds reads while an answer is pending). What one connection holds is then one read's
/// requests, the unsent answers up to the mark, and one answer. A connection whose answers stay
/// unread for `unreadTimeout` (`--slow-client-timeout`) is closed and counted.
final class HTTPRouter: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let routes: HTTPRoutes
    /// What the request's token grants (`AdmissionGate`); nil on a listener without the gate.
    private let grant: RequestGrant?
    private let unreadTimeout: TimeAmount
    private let onUnreadClose: @Sendable () -> Void
    private var pending: HTTPRequestHead?
    /// A complete request waiting for the unsent answers to drain, and the close if they never do.
    private var waiting: (head: HTTPRequestHead, giveUp: Scheduled<Void>)?

    init(
        routes: HTTPRoutes, grant: RequestGrant? = nil, unreadTimeout: TimeAmount = .seconds(30),
        onUnreadClose: @escaping @Sendable () -> Void = {}
    ) {
        self.routes = routes
        self.grant = grant
        self.unreadTimeout = unreadTimeout
        self.onUnreadClose = onUnreadClose
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        waiting?.giveUp.cancel()
        waiting = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            pending = head
        case .body:
            break
        case .end:
            guard let head = pending else { return }
            pending = nil
            guard context.channel.isWritable else {
                wait(head, context: context)
                return
            }
            answer(head, context: context)
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable, let (head, giveUp) = waiting {
            giveUp.cancel()
            waiting = nil
            answer(head, context: context)
        }
        context.fireChannelWritabilityChanged()
    }

    private func wait(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        let channel = context.channel
        let onUnreadClose = self.onUnreadClose
        let giveUp = context.eventLoop.scheduleTask(in: unreadTimeout) {
            onUnreadClose()
            channel.close(promise: nil)
        }
        waiting = (head, giveUp)
    }

    private func answer(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        routes.respond(to: head, grant: grant?.grant ?? .open).write(
            to: context, version: head.version, keepAlive: head.isKeepAlive,
            withBody: head.method != .HEAD)
    }
}

extension HTTPResponse {
    /// Writes this response on `context` (a handler whose outbound parts are `HTTPServerResponsePart`),
    /// and closes the connection once it is written unless `keepAlive`.
    func write(
        to context: ChannelHandlerContext, version: HTTPVersion, keepAlive: Bool, withBody: Bool = true,
        extraHeaders: [(String, String)] = []
    ) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: contentType)
        headers.add(name: "Content-Length", value: String(body.readableBytes))
        headers.add(name: "Cache-Control", value: "no-store")
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        headers.add(contentsOf: self.headers)
        headers.add(contentsOf: extraHeaders)
        context.write(
            NIOAny(HTTPServerResponsePart.head(HTTPResponseHead(version: version, status: status, headers: headers))),
            promise: nil)
        if withBody {
            context.write(NIOAny(HTTPServerResponsePart.body(.byteBuffer(body))), promise: nil)
        }
        let done = context.writeAndFlush(NIOAny(HTTPServerResponsePart.end(nil)))
        if !keepAlive {
            let channel = context.channel
            done.whenComplete { _ in channel.close(promise: nil) }
        }
    }
}
