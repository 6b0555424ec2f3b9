import EpollTransport
import FanoutEngine
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket

/// The opt-in conformance listener (`--echo-port`): a WebSocket upgrade on any path, the frame
/// handling of `/ws` with permessage-deflate negotiated per connection (as `--deflate dedicated`
/// does, with a window of up to 15 bits), and an `EchoSession` that sends every message back.
/// Conformance suites (Autobahn, via kosoku) connect to `host:port` with no path. Its limits are
/// larger than `/ws`'s, since those suites send messages of up to 16 MiB.
///
/// Its connections ride the transport `/ws`'s subscribers ride: with the owned transport, it accepts
/// on an owned loop and each upgraded socket is handed over (`OwnedHandover`) to a table of its own
/// (not the hub's subscribers: they are not counted or told the hub's events); with NIO, the session
/// stays in its channel. So the suites check the frame reader subscribers actually have.
///
/// It is a test fixture, not a door: it binds to loopback whatever `--host` says, and has none of
/// the public listener's admission (limits, tokens, TLS, the request deadline). Its sessions read
/// no faster than their echoes are taken (`EchoSession`).
final class EchoListener: Sendable {
    static let maxMessageBytes = 32 << 20
    static let host = "127.0.0.1"

    private enum Transport: Sendable {
        case nio(any Channel)
        case owned(OwnedListener, OwnedConnections)
    }

    let port: Int
    private let transport: Transport

    private init(port: Int, transport: Transport) {
        self.port = port
        self.transport = transport
    }

    /// On the owned transport if `ownedLoop` is given (it accepts there and serves the connections),
    /// else on NIO's `nioLoops`.
    static func bind(
        hub: Hub, nioLoops: any EventLoopGroup, ownedLoop: EpollLoop?, routes: HTTPRoutes,
        port: Int
    ) async throws -> EchoListener {
        let configuration = hub.configuration
        // The echo compresses each connection's messages itself, so it negotiates as dedicated mode
        // does, whatever `--deflate` says for `/ws` (only `off` is honoured): every window a client
        // may ask for, with or without context takeover.
        let negotiation = PerMessageDeflateNegotiation(
            mode: configuration.deflate == .off ? .off : .dedicated,
            dedicatedWindowBits: 15)
        let closeGrace = configuration.closeGrace
        if let ownedLoop {
            let connections = try await ownedLoop.submit { OwnedConnections(loop: ownedLoop, hub: hub) }.get()
            let listener = try await OwnedListener.bind(
                hub: hub, loop: ownedLoop, nioLoops: nioLoops, host: host, port: port
            ) { channel, descriptor in
                try configure(
                    channel, negotiation: negotiation, routes: routes, hub: hub, closeGrace: closeGrace,
                    owned: (descriptor, connections))
            }
            return EchoListener(port: listener.port, transport: .owned(listener, connections))
        }
        let bootstrap = ServerBootstrap(group: nioLoops)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try configure(
                        channel, negotiation: negotiation, routes: routes, hub: hub, closeGrace: closeGrace, owned: nil)
                }
            }
        let channel = try await bootstrap.bind(host: host, port: port).get()
        return EchoListener(port: channel.localAddress?.port ?? port, transport: .nio(channel))
    }

    /// Stops accepting and closes the owned transport's echo connections (NIO's close with their loops).
    func stop() async {
        switch transport {
        case .nio(let channel):
            try? await channel.close()
        case .owned(let listener, let connections):
            await listener.stop()
            await connections.closeAll()
        }
    }

    private static func configure(
        _ channel: any Channel, negotiation: PerMessageDeflateNegotiation, routes: HTTPRoutes, hub: Hub,
        closeGrace: TimeAmount, owned: (descriptor: CInt, connections: OwnedConnections)?
    ) throws {
        let upgrader = NIOWebSocketServerUpgrader(
            maxFrameSize: maxMessageBytes,
            automaticErrorHandling: false,  // the sessions answer frame errors (`CloseHandshake.closeCode`)
            shouldUpgrade: { channel, head in
                var headers = HTTPHeaders()
                if let agreement = negotiation.negotiate(head.headers["Sec-WebSocket-Extensions"]) {
                    headers.add(name: "Sec-WebSocket-Extensions", value: agreement.responseHeader)
                }
                return channel.eventLoop.makeSucceededFuture(headers)
            },
            upgradePipelineHandler: { channel, head in
                channel.eventLoop.makeCompletedFuture {
                    let agreement = negotiation.negotiate(head.headers["Sec-WebSocket-Extensions"])
                    // Made on the loop the connection lives on.
                    let makeSession:
                        @Sendable (any WebSocketConnection, any FrameSink) throws -> any ConnectionSession = {
                            connection, writer in
                            let deflater = try agreement.map {
                                try MessageDeflater(
                                    contextTakeover: !$0.serverNoContextTakeover, windowBits: $0.serverWindowBits)
                            }
                            return EchoSession(
                                connection: connection, writer: writer, deflater: deflater, closeGrace: closeGrace)
                        }
                    let framing = MessageFraming(
                        maxMessageBytes: maxMessageBytes, maxFragments: 1 << 20, inflates: agreement != nil)
                    if let owned {
                        try OwnedHandover.install(
                            in: channel, descriptor: owned.descriptor, to: owned.connections, place: nil,
                            framing: framing
                        ) { try makeSession($0, $0) }
                        return
                    }
                    let sync = channel.pipeline.syncOperations
                    let writer = RawFrameWriter()
                    try sync.addHandler(writer, position: .first)
                    try sync.addHandler(MessageAssembler(framing, inflater: hub.inflater(for: channel.eventLoop)))
                    try sync.addHandler(
                        SessionChannelHandler(eventLoop: channel.eventLoop, registry: nil) {
                            try makeSession($0, writer)
                        })
                }
            }
        )
        let sync = channel.pipeline.syncOperations
        try sync.configureHTTPServerPipeline(
            withServerUpgrade: (
                upgraders: [upgrader],
                completionHandler: { context in
                    context.pipeline.removeHandler(name: ConnectionPipeline.routerName, promise: nil)
                }
            ),
            withErrorHandling: true
        )
        try sync.addHandler(HTTPRouter(routes: routes), name: ConnectionPipeline.routerName)
    }
}
