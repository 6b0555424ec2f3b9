import FanoutEngine
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket

/// The opt-in conformance listener (`--echo-port`): a WebSocket upgrade on any path, the frame
/// handling of `/ws` with permessage-deflate negotiated per connection (as `--deflate dedicated`
/// does, with a window of up to 15 bits), and an `EchoSession` that sends every message back. Conformance suites (Autobahn, via kosoku) connect to `host:port` with no path.
/// Its limits are larger than `/ws`'s, since those suites send messages of up to 16 MiB.
///
/// It is a test fixture, not a door: it binds to loopback whatever `--host` says, and has none of
/// the public listener's admission (limits, tokens, TLS, the request deadline). Its sessions read
/// no faster than their echoes are taken (`EchoSession`).
enum EchoListener {
    static let maxMessageBytes = 32 << 20
    static let host = "127.0.0.1"

    static func bind(hub: Hub, group: any EventLoopGroup, routes: HTTPRoutes, port: Int) async throws -> any Channel {
        let configuration = hub.configuration
        // The echo compresses each connection's messages itself, so it negotiates as dedicated mode
        // does, whatever `--deflate` says for `/ws` (only `off` is honoured): every window a client
        // may ask for, with or without context takeover.
        let negotiation = PerMessageDeflateNegotiation(mode: configuration.deflate == .off ? .off : .dedicated,
                                                       dedicatedWindowBits: 15)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try configure(channel, negotiation: negotiation, routes: routes, closeGrace: configuration.closeGrace)
                }
            }
        return try await bootstrap.bind(host: host, port: port).get()
    }

    private static func configure(_ channel: any Channel, negotiation: PerMessageDeflateNegotiation, routes: HTTPRoutes,
                                  closeGrace: TimeAmount) throws {
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
                    let sync = channel.pipeline.syncOperations
                            let inflater = try agreement.map { _ in try MessageInflater(contextTakeover: false) }
                    try sync.addHandler(MessageAssembler(maxMessageBytes: maxMessageBytes, maxFragments: 1 << 20,
                                                         inflater: inflater.map { inflater in { inflater } }))
                    let deflater = try agreement.map {
                        try MessageDeflater(contextTakeover: !$0.serverNoContextTakeover, windowBits: $0.serverWindowBits)
                    }
                    try sync.addHandler(EchoSession(deflater: deflater, closeGrace: closeGrace))
                }
            }
        )
        let sync = channel.pipeline.syncOperations
        try sync.configureHTTPServerPipeline(
            withServerUpgrade: (upgraders: [upgrader], completionHandler: { context in
                context.pipeline.removeHandler(name: ConnectionPipeline.routerName, promise: nil)
            }),
            withErrorHandling: true
        )
        try sync.addHandler(HTTPRouter(routes: routes), name: ConnectionPipeline.routerName)
    }
}
