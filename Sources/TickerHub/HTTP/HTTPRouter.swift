import NIOCore
import NIOHTTP1

/// Answers plain HTTP requests with `HTTPRoutes`. Request bodies are ignored (every route is a GET).
/// Removed from the pipeline when a request upgrades to WebSocket.
final class HTTPRouter: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let routes: HTTPRoutes
    /// What the request's token grants (`AdmissionGate`); nil on a listener without the gate.
    private let grant: RequestGrant?
    private var pending: HTTPRequestHead?

    init(routes: HTTPRoutes, grant: RequestGrant? = nil) {
        self.routes = routes
        self.grant = grant
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
            routes.respond(to: head, grant: grant?.grant ?? .open).write(to: context, version: head.version, keepAlive: head.isKeepAlive,
                                           withBody: head.method != .HEAD)
        }
    }
}

extension HTTPResponse {
    /// Writes this response on `context` (a handler whose outbound parts are `HTTPServerResponsePart`),
    /// and closes the connection once it is written unless `keepAlive`.
    func write(to context: ChannelHandlerContext, version: HTTPVersion, keepAlive: Bool, withBody: Bool = true,
               extraHeaders: [(String, String)] = []) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: contentType)
        headers.add(name: "Content-Length", value: String(body.readableBytes))
        headers.add(name: "Cache-Control", value: "no-store")
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        headers.add(contentsOf: extraHeaders)
        context.write(NIOAny(HTTPServerResponsePart.head(HTTPResponseHead(version: version, status: status, headers: headers))), promise: nil)
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
