import AccessControl
import FanoutEngine
import NIOCore
import NIOPosix
import NIOHTTP1
import NIOWebSocket

/// Builds each accepted connection's pipeline: HTTP/1.1 with a WebSocket upgrader, whose upgraded
/// pipeline is:
///
///     head ─ RawFrameWriter ─ [WebSocketFrameEncoder] ─ [WebSocketFrameDecoder] ─ MessageAssembler
///          ─ SessionChannelHandler (a SubscriberSession) | IngestSession
///
/// A subscriber's frames are limited to `--max-client-message-bytes` (64 KiB) from their header on;
/// a publisher's decoder is swapped for one that takes its megabyte batches.
///
/// With TLS, `NIOSSLServerHandler` comes first, before all of these.
///
/// `RawFrameWriter` sits next to the head (or the TLS handler) so that the fan-out's pre-built frames (ByteBuffers)
/// skip the frame encoder; control frames (pong, close) still go through NIO's encoder.
enum ConnectionPipeline {
    static let routerName = "tickerhub.http-routes"

    /// NIO keeps each connection's last receive buffer for reuse, at its allocator's size. The
    /// default first size (2 KiB) was a quarter of a subscriber's memory; subscribers send a few
    /// hundred bytes (an upgrade request, then small JSON requests), and the allocator still grows
    /// for anything bigger. For every listener's connections, NIO's or adopted from the owned one.
    static let receiveAllocator = AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 256, maximum: 65536)

    /// A connection's backlog bounds (`--max-backlog-bytes`, `--backlog-resume-bytes`); the owned
    /// transport applies the same two (`OwnedConnections`).
    static func writeBufferWaterMark(_ configuration: HubConfiguration) -> ChannelOptions.Types.WriteBufferWaterMark {
        .init(low: configuration.backlogResumeBytes, high: configuration.maxBacklogBytes)
    }
    static let tlsName = "tickerhub.tls"

    /// `ownedDescriptor`: the connection's descriptor, when the owned transport accepted it
    /// (`OwnedListener`); a subscriber is then handed over to it once upgraded (`OwnedHandover`).
    static func configure(_ channel: any Channel, hub: Hub, routes: HTTPRoutes, ownedDescriptor: CInt? = nil) throws {
        if let tls = hub.configuration.tls {
            try channel.pipeline.syncOperations.addHandler(tls.makeHandler(), name: tlsName)
        }
        // The listener's role decides which endpoints it answers, WebSocket ones included.
        let admission = ConnectionAdmission(
            acceptsPublishers: hub.feed.acceptsPublishers,
            deflate: PerMessageDeflateNegotiation(
                mode: hub.configuration.deflate,
                dedicatedWindowBits: hub.configuration.dedicatedDeflateWindowBits),
            offersZstd: hub.engine.compression.zstdDictionary != nil,
            defaultHeartbeatMilliseconds: hub.configuration.heartbeatMilliseconds,
            origins: hub.configuration.origins,
            ingestCredential: hub.configuration.ingest.credential,
            role: routes.role,
            requiresGrant: hub.authentication != nil)
        // What the gate's token check granted this connection, for the upgrader below.
        let requestGrant = NIOLoopBound(RequestGrant(), eventLoop: channel.eventLoop)
        // The subscribers' limit: their requests are small, so a bigger frame is refused from its
        // header (1009) instead of being buffered first. Publishers get their own, larger decoder.
        let upgrader = NIOWebSocketServerUpgrader(
            maxFrameSize: hub.configuration.maxClientMessageBytes,
            automaticErrorHandling: false,  // the sessions answer frame errors (`CloseHandshake.closeCode`)
            shouldUpgrade: { channel, head in
                let decision = admission.decide(
                    head, grant: requestGrant.value.grant, refusedInBand: requestGrant.value.refusedInBand)
                guard decision != .refuse else { return channel.eventLoop.makeSucceededFuture(nil) }
                requestGrant.value.upgrading = true
                return channel.eventLoop.makeSucceededFuture(ConnectionAdmission.responseHeaders(for: decision))
            },
            upgradePipelineHandler: { channel, head in
                channel.eventLoop.makeCompletedFuture {
                    let grant = requestGrant.value.grant
                    let decision = admission.decide(head, grant: grant, refusedInBand: requestGrant.value.refusedInBand)
                    try configureUpgraded(
                        channel, decision: decision, grant: grant ?? .open, place: requestGrant.value.place,
                        ownedDescriptor: ownedDescriptor, hub: hub)
                }
            }
        )
        let sync = channel.pipeline.syncOperations
        try sync.configureHTTPServerPipeline(
            withServerUpgrade: (
                upgraders: [upgrader],
                completionHandler: { context in
                    // The HTTP routes must not see WebSocket frames, and the session's keep-alive rules
                    // replace the request deadline.
                    context.pipeline.removeHandler(name: routerName, promise: nil)
                    context.pipeline.removeHandler(name: RequestDeadline.name, promise: nil)
                    context.pipeline.removeHandler(name: AdmissionGate.name, promise: nil)
                }
            ),
            withErrorHandling: true
        )
        // Before the upgrader: a handshake the limits have no room for is answered, not upgraded.
        let metrics = hub.metrics
        let upgradeHandler = try sync.handler(type: HTTPServerUpgradeHandler.self)
        // The admin listener (loopback by default) is the operator's way in: never full.
        let gate = AdmissionGate(
            limits: routes.role == .adminOnly ? nil : hub.connectionLimits,
            trustedProxies: hub.configuration.trustedProxies,
            closesRefusedAtAccept: hub.configuration.tls != nil, maxHeaderBytes: hub.configuration.maxHeaderBytes,
            authentication: hub.authentication, grant: requestGrant.value,
            crossOrigin: CrossOriginReads(origins: hub.configuration.origins)
        ) { refusal in
            switch refusal {
            case .limits, .headerTooLarge: metrics.handshakesRefused.wrappingIncrement(ordering: .relaxed)
            case .authentication: metrics.authRefusals.wrappingIncrement(ordering: .relaxed)
            }
        }
        try sync.addHandler(gate, name: AdmissionGate.name, position: .before(upgradeHandler))
        let deadline = RequestDeadline(timeout: hub.configuration.requestTimeout, waits: metrics.firstByteWaits) {
            metrics.requestTimeouts.wrappingIncrement(ordering: .relaxed)
        }
        try sync.addHandler(deadline, name: RequestDeadline.name)
        try sync.addHandler(FirstByteWatch(deadline: deadline), position: .first)
        let unreadTimeout = TimeAmount.nanoseconds(Int64(hub.configuration.slowClientTimeoutSeconds * 1e9))
        try sync.addHandler(
            HTTPRouter(routes: routes, grant: requestGrant.value, unreadTimeout: unreadTimeout) {
                metrics.httpUnreadCloses.wrappingIncrement(ordering: .relaxed)
            }, name: routerName)
    }

    private static func configureUpgraded(
        _ channel: any Channel, decision: ConnectionAdmission.Decision, grant: AccessGrant,
        place: ConnectionPlace?, ownedDescriptor: CInt?, hub: Hub
    ) throws {
        let sync = channel.pipeline.syncOperations
        let configuration = hub.configuration
        switch decision {
        case .subscriber(let deflate, let zstd, let options):
            let subscriberEncoding = SubscriberEncoding(deflate: deflate, zstd: zstd)
            // Made on the loop the connection lives on (`connection.eventLoop`), with its fan-out.
            let makeSession: @Sendable (any WebSocketConnection, any FrameSink) throws -> any ConnectionSession = {
                connection, writer in
                SubscriberSession(
                    hub: hub, fanout: hub.fanout(for: connection.eventLoop), connection: connection, writer: writer,
                    encoding: try subscriberEncoding.messageEncoding(configuration: configuration),
                    options: options, grant: grant)
            }
            let framing = MessageFraming(
                maxMessageBytes: configuration.maxClientMessageBytes,
                maxFragments: configuration.maxClientFragments, inflates: deflate != nil)
            if let ownedDescriptor, let connections = hub.nextOwnedConnections() {
                try OwnedHandover.install(
                    in: channel, descriptor: ownedDescriptor, to: connections, place: place, framing: framing
                ) {
                    try makeSession($0, $0)
                }
                return
            }
            let writer = RawFrameWriter()
            // Next to the head, or to the TLS handler: the frames it writes must still be encrypted.
            let tlsHandler = try? sync.context(name: tlsName).handler
            try sync.addHandler(writer, position: tlsHandler.map { .after($0) } ?? .first)
            try sync.addHandler(MessageAssembler(framing, inflater: hub.inflater(for: channel.eventLoop)))
            try sync.addHandler(
                SessionChannelHandler(eventLoop: channel.eventLoop, registry: hub.connections) {
                    try makeSession($0, writer)
                })
        case .publisher(let symbols):
            try allowLargerFrames(upTo: configuration.ingest.maxMessageBytes, in: channel)
            try sync.addHandler(
                MessageAssembler(
                    maxMessageBytes: configuration.ingest.maxMessageBytes,
                    maxFragments: configuration.ingest.maxFragments, inflater: nil))
            // Who it is: its token's subject, or the ingest token all its holders share, or on an
            // open loopback /ingest its address.
            let identity =
                grant.expiresAt != nil
                ? "token:\(grant.subject ?? "-")"
                : configuration.ingest.credential != nil
                    ? "ingest-token" : "open:\(ClientAddress.key(of: channel.remoteAddress) ?? "local")"
            try sync.addHandler(
                IngestSession(hub: hub, identity: identity, allowedSymbols: symbols, expiresAt: grant.expiresAt))
        case .closeAtOnce(let refusal):
            try sync.addHandler(RefusedHandshakeCloser(refusal: refusal))
        case .refuse:
            preconditionFailure("a refused request is never upgraded")
        }
    }

    /// Replaces the frame decoder the upgrader added (with the subscribers' small limit) by one that
    /// takes frames up to `maxFrameSize`: a publisher's tick batch is megabytes. The upgrade has not
    /// completed yet, so no frame has reached the old decoder.
    private static func allowLargerFrames(upTo maxFrameSize: Int, in channel: any Channel) throws {
        let sync = channel.pipeline.syncOperations
        let small = try sync.handler(type: ByteToMessageHandler<WebSocketFrameDecoder>.self)
        try sync.addHandler(
            ByteToMessageHandler(WebSocketFrameDecoder(maxFrameSize: maxFrameSize)), position: .after(small))
        sync.removeHandler(small, promise: nil)
    }
}
