import FanoutEngine
import NIOCore
import NIOHTTP1
import NIOWebSocket

/// Builds each accepted connection's pipeline: HTTP/1.1 with a WebSocket upgrader, whose upgraded
/// pipeline is:
///
///     head ─ RawFrameWriter ─ [WebSocketFrameEncoder] ─ [WebSocketFrameDecoder] ─ MessageAssembler
///          ─ SubscriberSession | IngestSession
///
/// `RawFrameWriter` sits next to the head so that the fan-out's pre-built frames (ByteBuffers) skip
/// the frame encoder; control frames (pong, close) still go through NIO's encoder.
enum ConnectionPipeline {
    static let routerName = "tickerhub.http-routes"

    static func configure(_ channel: any Channel, hub: Hub, routes: HTTPRoutes) throws {
        let admission = ConnectionAdmission(acceptsPublishers: hub.configuration.feed == .ingest,
                                            deflate: PerMessageDeflateNegotiation(mode: hub.configuration.deflate,
                                                                                  dedicatedWindowBits: hub.configuration.dedicatedDeflateWindowBits),
                                            offersZstd: hub.engine.compression.zstdDictionary != nil,
                                            defaultHeartbeatMilliseconds: hub.configuration.heartbeatMilliseconds)
        let maxFrameSize = max(hub.configuration.maxClientMessageBytes, hub.configuration.ingest.maxMessageBytes)
        let upgrader = NIOWebSocketServerUpgrader(
            maxFrameSize: maxFrameSize,
            automaticErrorHandling: false,  // the sessions answer frame errors (`CloseHandshake.closeCode`)
            shouldUpgrade: { channel, head in
                let decision = admission.decide(head)
                return channel.eventLoop.makeSucceededFuture(decision == .refuse ? nil : ConnectionAdmission.responseHeaders(for: decision))
            },
            upgradePipelineHandler: { channel, head in
                channel.eventLoop.makeCompletedFuture {
                    try configureUpgraded(channel, decision: admission.decide(head), hub: hub)
                }
            }
        )
        let sync = channel.pipeline.syncOperations
        try sync.configureHTTPServerPipeline(
            withServerUpgrade: (upgraders: [upgrader], completionHandler: { context in
                // The HTTP routes must not see WebSocket frames.
                context.pipeline.removeHandler(name: routerName, promise: nil)
            }),
            withErrorHandling: true
        )
        try sync.addHandler(HTTPRouter(routes: routes), name: routerName)
    }

    private static func configureUpgraded(_ channel: any Channel, decision: ConnectionAdmission.Decision, hub: Hub) throws {
        let sync = channel.pipeline.syncOperations
        let configuration = hub.configuration
        switch decision {
        case .subscriber(let deflate, let zstd, let options):
            let writer = RawFrameWriter()
            try sync.addHandler(writer, position: .first)
            // Client messages never use context takeover (we ask for that), so the loop's one
            // inflater serves every connection on it.
            let loopInflater = hub.inflater(for: channel.eventLoop)
            let inflater: (() -> MessageInflater?)? = deflate == nil ? nil : { loopInflater.shared() }
            try sync.addHandler(MessageAssembler(maxMessageBytes: configuration.maxClientMessageBytes, maxFragments: configuration.maxClientFragments, inflater: inflater))
            let encoding: MessageEncoding = switch deflate {
            case nil: zstd ? .zstd : .plain
            case let agreement? where agreement.usesSharedFrames && configuration.deflate == .shared: .sharedDeflate
            case let agreement?: .dedicatedDeflate(try MessageDeflater(contextTakeover: !agreement.serverNoContextTakeover,
                                                                       windowBits: agreement.serverWindowBits, memoryLevel: 4))
            }
            try sync.addHandler(SubscriberSession(hub: hub, fanout: hub.fanout(for: channel.eventLoop), writer: writer, encoding: encoding,
                                                  options: options))
        case .publisher:
            try sync.addHandler(MessageAssembler(maxMessageBytes: configuration.ingest.maxMessageBytes, maxFragments: configuration.ingest.maxFragments, inflater: nil))
            try sync.addHandler(IngestSession(hub: hub))
        case .refuse:
            preconditionFailure("a refused request is never upgraded")
        }
    }
}
