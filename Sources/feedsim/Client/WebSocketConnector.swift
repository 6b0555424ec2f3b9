import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import NIOWebSocket

/// Opens one WebSocket client connection with NIO: TCP connect, HTTP/1.1 upgrade, then the caller's
/// handler on top of NIO's frame codec. The returned future succeeds once the upgrade is done.
enum WebSocketConnector {
    struct UpgradeFailed: Error, CustomStringConvertible {
        var description: String { "the server did not upgrade the connection to WebSocket" }
    }

    struct UpgradeTimedOut: Error, CustomStringConvertible {
        var description: String { "the server did not answer the WebSocket upgrade within \(upgradeTimeout)" }
    }

    struct TLSRequired: Error, CustomStringConvertible {
        var description: String { "a wss:// URL needs a TLS context" }
    }

    static let upgradeTimeout = TimeAmount.seconds(15)

    /// With `throttle`, the connection reads at most that many bytes per second (see `ReadThrottle`),
    /// with a small receive buffer, and `makeThrottle` is handed the throttle on the loop.
    ///
    /// A `wss://` URL needs `tls` (`ClientTLS.context`).
    ///
    /// With `offerDeflate`, the request offers permessage-deflate, and `makeHandler` learns whether the
    /// server agreed (`Negotiated.deflate`).
    static func connect(
        to url: WebSocketURL, on eventLoop: any EventLoop, sourceAddress: SocketAddress? = nil,
        maxFrameSize: Int = 1 << 20, throttle bytesPerSecond: Int? = nil, offerDeflate: Bool = false,
        subprotocol: String? = nil, bearerToken: String? = nil, tls: NIOSSLContext? = nil,
        makeHandler: @escaping @Sendable (Negotiated) -> any ChannelHandler
    ) -> EventLoopFuture<any Channel> {
        let upgraded = eventLoop.makePromise(of: Void.self)
        var bootstrap = ClientBootstrap(group: eventLoop)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(.seconds(10))
        if bytesPerSecond != nil {
            // Set before connect, so the small window is what TCP advertises from the start.
            bootstrap =
                bootstrap
                .channelOption(.socketOption(.so_rcvbuf), value: SocketOptionValue(ReadThrottle.receiveBuffer))
                .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: ReadThrottle.readSize))
                .channelOption(.maxMessagesPerRead, value: 1)
        }
        if let sourceAddress { bootstrap = bootstrap.bind(to: sourceAddress) }
        bootstrap = bootstrap.channelInitializer { channel in
            let throttle = bytesPerSecond.map { ReadThrottle(bytesPerSecond: $0) }
            let throttleBox = NIOLoopBound(throttle, eventLoop: channel.eventLoop)
            let upgrader = NIOWebSocketClientUpgrader(maxFrameSize: maxFrameSize, automaticErrorHandling: true) {
                channel, response in
                channel.eventLoop.makeCompletedFuture {
                    let deflate = response.headers["Sec-WebSocket-Extensions"].contains {
                        $0.hasPrefix("permessage-deflate")
                    }
                    let agreedProtocol = response.headers.first(name: "Sec-WebSocket-Protocol")
                    try channel.pipeline.syncOperations.addHandler(
                        makeHandler(
                            Negotiated(
                                throttle: throttleBox.value, deflate: deflate,
                                subprotocol: agreedProtocol)))
                    upgraded.succeed()
                }
            }
            return channel.eventLoop.makeCompletedFuture {
                let sync = channel.pipeline.syncOperations
                if let throttle { try sync.addHandler(throttle, position: .first) }
                if url.isSecure {
                    guard let tls else { throw TLSRequired() }
                    try sync.addHandler(ClientTLS.handler(for: url, context: tls))
                }
                try sync.addHTTPClientHandlers(
                    leftOverBytesStrategy: .forwardBytes,
                    withClientUpgrade: (
                        upgraders: [upgrader],
                        completionHandler: { context in
                            context.pipeline.removeHandler(name: UpgradeRequestSender.name, promise: nil)
                        }
                    ))
                try sync.addHandler(
                    UpgradeRequestSender(
                        url: url, offerDeflate: offerDeflate, subprotocol: subprotocol, bearerToken: bearerToken,
                        failed: upgraded), name: UpgradeRequestSender.name)
            }
        }
        let connected = bootstrap.connect(host: url.host, port: url.port)
        connected.whenFailure { upgraded.fail($0) }  // refused or timed out: never upgraded
        return connected.flatMap { channel in
            channel.closeFuture.whenComplete { _ in upgraded.fail(UpgradeFailed()) }
            // A server that accepts but never answers the upgrade (overloaded, stuck) must not hang
            // the swarm's ramp-up for ever.
            let deadline = channel.eventLoop.scheduleTask(in: upgradeTimeout) {
                upgraded.fail(UpgradeTimedOut())
                channel.close(promise: nil)
            }
            upgraded.futureResult.whenComplete { _ in deadline.cancel() }
            return upgraded.futureResult.map { channel }
        }
    }
}

/// What the handshake settled, for the handler placed on the upgraded connection.
struct Negotiated {
    /// The connection's read throttle, if it reads slowly.
    var throttle: ReadThrottle?
    /// The server agreed to permessage-deflate: server messages may arrive compressed (RSV1).
    var deflate: Bool
    /// The subprotocol the server confirmed, if any.
    var subprotocol: String?
}

/// Sends the upgrade request when the connection opens (NIO's upgrader adds the WebSocket headers),
/// and fails the connection if the server answers with anything but 101.
private final class UpgradeRequestSender: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart
    static let name = "feedsim.upgrade-request"

    private let url: WebSocketURL
    private let offerDeflate: Bool
    private let subprotocol: String?
    private let bearerToken: String?
    private let failed: EventLoopPromise<Void>

    init(
        url: WebSocketURL, offerDeflate: Bool, subprotocol: String?, bearerToken: String?,
        failed: EventLoopPromise<Void>
    ) {
        self.url = url
        self.offerDeflate = offerDeflate
        self.subprotocol = subprotocol
        self.bearerToken = bearerToken
        self.failed = failed
    }

    func channelActive(context: ChannelHandlerContext) {
        var headers = HTTPHeaders()
        // No Content-Length: a GET upgrade has no body, and strict servers (Python websockets)
        // refuse the handshake when one is announced.
        headers.add(name: "Host", value: "\(url.host):\(url.port)")
        if offerDeflate {
            // What browsers and Python websockets offer.
            headers.add(name: "Sec-WebSocket-Extensions", value: "permessage-deflate; client_max_window_bits")
        }
        if let subprotocol { headers.add(name: "Sec-WebSocket-Protocol", value: subprotocol) }
        if let bearerToken { headers.add(name: "Authorization", value: "Bearer \(bearerToken)") }
        let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: url.path, headers: headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // Only reached when the server answered without upgrading.
        if case .head(let head) = unwrapInboundIn(data) {
            failed.fail(HTTPStatusError(status: head.status))
        }
        context.close(promise: nil)
    }
}

struct HTTPStatusError: Error, CustomStringConvertible {
    var status: HTTPResponseStatus
    var description: String { "server answered \(status.code) \(status.reasonPhrase) instead of upgrading" }
}

extension WebSocketFrame {
    /// A client frame: RFC 6455 requires clients to mask every frame.
    static func client(_ opcode: WebSocketOpcode, _ data: ByteBuffer) -> WebSocketFrame {
        WebSocketFrame(fin: true, opcode: opcode, maskKey: .random(), data: data)
    }
}
