import EpollTransport
import FanoutEngine
import FeedModel
import Logging
import NIOCore
import NIOPosix
import CMalloc
import ServiceLifecycle
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The composition root: builds the engine (ring, publisher, one fan-out consumer per socket loop),
/// the feed source and the listener, and tears them down in order.
///
/// Threads: the subscriber loops run subscribers and their fan-out consumers, and the first of them
/// is also the ring's single writer (the publisher and the simulated feed's timer). Why not a thread of its
/// own: encoding a tick costs about a microsecond, while every batch handed to another thread costs
/// a wake-up and a context switch on each side, which at light load was most of the difference in
/// CPU per delivery; and the loop that publishes drains its own consumer in the same task, with no
/// wake-up at all.
final class Hub: Sendable {
    let configuration: HubConfiguration
    let logger: Logger
    let engine: BroadcastEngine
    let metrics = HubMetrics()
    let prometheus: PrometheusMetrics
    let connections = ConnectionRegistry()
    /// Room for WebSocket connections, in total and per IP (`AdmissionGate`).
    let connectionLimits: ConnectionLimits
    /// Where the ticks come from; run as a service of its own beside the hub (`TickerHubCommand`).
    let feed: any FeedSource
    /// What the feed says besides ticks: live or stale, warm or not, a new epoch.
    let feedStatus: FeedStatusBoard
    /// `--publish-nats`: this hub's ticks to NATS, run as a service beside the feed; nil without.
    let publication: (any Service)?
    /// New symbols per publisher, for the hub's lifetime (`--max-new-symbols-per-publisher`).
    let publisherQuotas: PublisherQuotas
    /// The token check at the handshake; nil when auth is off.
    let authentication: RequestAuthentication?
    /// The sessions that follow symbol patterns, told of each new symbol.
    let patternWatchers: PatternWatchers
    /// What each subscriber loop keeps for all of its connections: its fan-out consumer, drain
    /// doorbell, keep-alive sweep and inflater.
    private let loopServices: [ObjectIdentifier: LoopServices]
    /// NIO's loops: every connection with `--transport nio`; with `--transport owned`, HTTP, the
    /// handshakes, publishers and the echo listener (one loop).
    private let socketLoops: MultiThreadedEventLoopGroup
    /// `--transport owned`: the loops that carry subscribers after their handshake; empty with NIO.
    private let ownedLoops: [EpollLoop]
    /// The loops that carry subscribers (and their fan-out consumers): `ownedLoops`, or NIO's.
    private let subscriberLoops: [any EventLoop]
    private let state = Mutex(State())

    private struct State {
        var serverChannel: (any Channel)?
        var adminChannel: (any Channel)?
        var doorbellChannels: [any Channel] = []
        var echo: EchoListener?
        /// `--transport owned`: the listeners, and each owned loop's connections (same order as `ownedLoops`).
        var ownedListeners: [OwnedListener] = []
        var ownedConnections: [OwnedConnections] = []
        var nextOwned = 0
    }

    /// Throws if `configuration` is one `tickerhub` would refuse (`HubConfiguration.validate`).
    init(configuration: HubConfiguration, logger: Logger, prometheus: PrometheusMetrics = PrometheusMetrics())
        throws(ConfigurationError)
    {
        try configuration.validate()
        self.configuration = configuration
        self.logger = logger
        self.prometheus = prometheus
        connectionLimits = ConnectionLimits(configuration: configuration.connectionLimits)
        publisherQuotas = PublisherQuotas(limit: configuration.ingest.maxNewSymbolsPerPublisher)
        authentication = configuration.auth.map {
            RequestAuthentication(verifier: $0, ingestCredential: configuration.ingest.credential)
        }
        let owned = configuration.usesOwnedTransport
        socketLoops = MultiThreadedEventLoopGroup(numberOfThreads: owned ? 1 : configuration.eventLoops)
        ownedLoops =
            owned
            ? (0..<configuration.eventLoops).map { index in
                do { return try EpollLoop(name: "tickerhub-owned-\(index)") } catch {
                    fatalError("cannot start an owned event loop: \(error)")
                }
            } : []
        let loops: [any EventLoop] = owned ? ownedLoops : Array(socketLoops.makeIterator())
        subscriberLoops = loops
        let doorbells = Dictionary(
            uniqueKeysWithValues: loops.map { (ObjectIdentifier($0), LoopServices.makeDoorbell(for: $0)) })
        engine = BroadcastEngine(
            configuration: configuration.engine, loops: loops, publisherLoop: loops[0],
            compression: Self.compression(configuration), drainSignal: { doorbells[ObjectIdentifier($0)] })
        loopServices = Dictionary(
            uniqueKeysWithValues: engine.fanouts.map { fanout in
                let loop = fanout.eventLoop
                return (
                    ObjectIdentifier(loop),
                    LoopServices(
                        fanout: fanout, doorbell: doorbells[ObjectIdentifier(loop)]!,
                        keepAliveSweep: KeepAliveSweep(eventLoop: loop, round: Self.keepAliveRound),
                        inflater: LoopInflater(eventLoop: loop))
                )
            })
        patternWatchers = PatternWatchers(directory: engine.directory)
        feedStatus = FeedStatusBoard(connections: connections, logger: logger)
        publication = FeedSources.publication(configuration, publisher: engine.publisher, logger: logger)
        feed = FeedSources.make(configuration, publisher: engine.publisher, status: feedStatus, logger: logger)
        let histogram = prometheus.batchLatency
        let buckets = metrics.fanoutBatches
        for fanout in engine.fanouts {
            fanout.eventLoop.execute {
                fanout.drainObserver = { duration in
                    histogram.record(duration)
                    buckets.record(duration)
                }
            }
        }
    }

    /// Binds the listeners (the feed runs as a service of its own: `feed`). Returns the bound port of the public
    /// listener.
    @discardableResult
    func start() async throws -> Int {
        var doorbellChannels: [any Channel] = []
        for fanout in engine.fanouts {
            if let channel = try await services(of: fanout.eventLoop).doorbell.attach(to: fanout) {
                doorbellChannels.append(channel)
            }
        }
        var ownedConnections: [OwnedConnections] = []
        for loop in ownedLoops {
            let connections = try await loop.submit { OwnedConnections(loop: loop, hub: self) }.get()
            self.connections.add(connections)
            ownedConnections.append(connections)
        }
        state.withLock { $0.ownedConnections = ownedConnections }
        let publicRole: ListenerRole = configuration.adminPort == nil ? .combined : .publicOnly
        let port: Int
        var channel: (any Channel)?
        var adminChannel: (any Channel)?
        var adminPort = configuration.adminPort ?? 0
        if let firstLoop = ownedLoops.first {
            // Every listener accepts on the owned transport, so that each connection's descriptor is
            // known when a subscriber's handshake completes and the socket is handed over.
            let listener = try await ownedListener(
                on: firstLoop, role: publicRole, host: configuration.host, port: configuration.port)
            port = listener.port
            var listeners = [listener]
            if let configuredAdminPort = configuration.adminPort {
                let admin = try await ownedListener(
                    on: firstLoop, role: .adminOnly, host: configuration.adminHost, port: configuredAdminPort)
                adminPort = admin.port
                listeners.append(admin)
            }
            state.withLock { $0.ownedListeners = listeners }
        } else {
            let bound = try await bind(role: publicRole, host: configuration.host, port: configuration.port)
            port = bound.localAddress?.port ?? configuration.port
            channel = bound
            if let configuredAdminPort = configuration.adminPort {
                let admin = try await bind(role: .adminOnly, host: configuration.adminHost, port: configuredAdminPort)
                adminPort = admin.localAddress?.port ?? configuredAdminPort
                adminChannel = admin
            }
        }
        let router = HTTPRoutes(hub: self)
        var echo: EchoListener?
        if let echoPort = configuration.echoPort {
            echo = try await EchoListener.bind(
                hub: self, nioLoops: socketLoops, ownedLoop: ownedLoops.first, routes: router, port: echoPort)
        }
        state.withLock {
            $0.serverChannel = channel
            $0.adminChannel = adminChannel
            $0.doorbellChannels = doorbellChannels
            $0.echo = echo
        }
        logger.info(
            "listening",
            metadata: [
                "address": "\(configuration.host):\(port)", "feed": "\(feed.name)",
                "symbols": "\(engine.directory.count)",
            ])
        if configuration.adminPort != nil {
            logger.info(
                "admin listener: /metrics, /stats, /ops, /ingest",
                metadata: [
                    "admin_address": "\(configuration.adminHost):\(adminPort)"
                ])
        }
        if let echo {
            logger.info(
                "echo listener for conformance tests",
                metadata: [
                    "echo": "\(EchoListener.host):\(echo.port)", "transport": "\(ownedLoops.isEmpty ? "nio" : "owned")",
                ])
        }
        return port
    }

    /// A listener on `host:port` serving what `role` says, accepting on `loop` (`--transport owned`).
    private func ownedListener(on loop: EpollLoop, role: ListenerRole, host: String, port: Int) async throws
        -> OwnedListener
    {
        let routes = HTTPRoutes(hub: self, role: role)
        return try await OwnedListener.bind(hub: self, loop: loop, nioLoops: socketLoops, host: host, port: port) {
            channel, descriptor in
            try ConnectionPipeline.configure(channel, hub: self, routes: routes, ownedDescriptor: descriptor)
        }
    }

    /// A listener on `host:port` serving what `role` says, every connection on the socket loops.
    private func bind(role: ListenerRole, host: String, port: Int) async throws -> any Channel {
        let routes = HTTPRoutes(hub: self, role: role)
        var bootstrap = ServerBootstrap(group: socketLoops)
            .serverChannelOption(.backlog, value: 4096)
            // NIO accepts at most this many connections per readable event (default 4). A burst of
            // reconnecting dashboards should be taken off the listen backlog in a few polls.
            .serverChannelOption(.maxMessagesPerRead, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.recvAllocator, value: ConnectionPipeline.receiveAllocator)
            .childChannelOption(.writeBufferWaterMark, value: ConnectionPipeline.writeBufferWaterMark(configuration))
        if configuration.socketSendBufferBytes > 0 {
            bootstrap = bootstrap.childChannelOption(
                .socketOption(.so_sndbuf), value: SocketOptionValue(configuration.socketSendBufferBytes))
        }
        let (metrics, logger) = (self.metrics, self.logger)
        bootstrap = bootstrap.serverChannelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(AcceptBackoff(metrics: metrics, logger: logger))
            }
        }
        bootstrap = bootstrap.childChannelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                try ConnectionPipeline.configure(channel, hub: self, routes: routes)
            }
        }
        return try await bootstrap.bind(host: host, port: port).get()
    }

    /// Stops accepting, closes every connection with 1001 (going away), stops the feed and the loops.
    func stop() async {
        let (channel, adminChannel, echo, listeners) = state.withLock {
            ($0.serverChannel, $0.adminChannel, $0.echo, $0.ownedListeners)
        }
        try? await channel?.close()
        try? await adminChannel?.close()
        await echo?.stop()
        for listener in listeners { await listener.stop() }
        await connections.closeAll()
        try? await socketLoops.shutdownGracefully()
        for loop in ownedLoops { try? await loop.shutdownGracefully() }
        // Each table holds the hub: let go of them, so that a stopped hub is freed (tests start many).
        state.withLock {
            $0.ownedConnections = []
            $0.echo = nil
        }
        connections.removeGroups()
        logger.info("stopped")
    }

    /// How often each session's keep-alive is checked: the granularity of heartbeats (sent 1 to 1.5
    /// heartbeat intervals after the last message, at the 1 s minimum), pings and slow-consumer eviction.
    static let keepAliveRound = TimeAmount.milliseconds(500)

    /// The owned loop's connections that take the next subscriber handed over (round robin).
    func nextOwnedConnections() -> OwnedConnections? {
        state.withLock { state in
            guard !state.ownedConnections.isEmpty else { return nil }
            defer { state.nextOwned = (state.nextOwned + 1) % state.ownedConnections.count }
            return state.ownedConnections[state.nextOwned]
        }
    }

    /// The consumer for the loop a connection lives on.
    func fanout(for eventLoop: any EventLoop) -> LoopFanout {
        services(of: eventLoop).fanout
    }

    /// The client-message inflater of the loop a connection lives on.
    func inflater(for eventLoop: any EventLoop) -> LoopInflater {
        services(of: eventLoop).inflater
    }

    /// The keep-alive sweep of the loop a connection lives on.
    func keepAliveSweep(for eventLoop: any EventLoop) -> KeepAliveSweep {
        services(of: eventLoop).keepAliveSweep
    }

    private func services(of eventLoop: any EventLoop) -> LoopServices {
        guard let services = loopServices[ObjectIdentifier(eventLoop)] else {
            preconditionFailure("connection on an event loop the hub does not own")
        }
        return services
    }

    /// The engine's compression: deflate for everyone, and zstd with a dictionary trained on the
    /// configured instruments when `--zstd` is on.
    private static func compression(_ configuration: HubConfiguration) -> SharedCompression {
        // Training takes ~0.1 s; a failure only means no zstd subprotocol, never no hub.
        let dictionary =
            configuration.zstd
            ? try? ZstdDictionaryTraining.train(
                instruments: FeedSources.dictionaryInstruments(configuration), seed: configuration.seed)
            : nil
        // Training's samples and work space (~8 MB) are freed by now, but malloc keeps the pages in
        // its arena; hand them back rather than carry them for the hub's lifetime.
        _ = malloc_trim(0)
        return SharedCompression(
            deflateThresholdBytes: configuration.engine.deflateThresholdBytes, zstdDictionary: dictionary)
    }
}
