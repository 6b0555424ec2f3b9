import EpollTransport
import Logging
import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

/// A listener of `--transport owned`: it accepts on an owned loop, then gives each connection to NIO
/// for its HTTP request and handshake (`ConnectionPipeline`, the same pipeline as with NIO's own
/// listener; or the echo listener's), telling the pipeline the connection's descriptor. A
/// subscriber's socket (or an echo connection's) can then be handed over to the owned transport when
/// its upgrade completes (`OwnedHandover`); every other connection (HTTP, publishers, refusals) stays
/// on NIO to its end.
///
/// Out of descriptors, it pauses accepting (`SocketListener`), counted in `acceptFailures` and logged
/// at most every few seconds, as NIO's listener does (`AcceptBackoff`).
final class OwnedListener: Sendable {
    let port: Int
    private let loop: EpollLoop
    private let listener: NIOLoopBound<SocketListener>

    private init(port: Int, loop: EpollLoop, listener: NIOLoopBound<SocketListener>) {
        self.port = port
        self.loop = loop
        self.listener = listener
    }

    /// A listener whose connections go to NIO's `nioLoops`, each channel set up by `configure`, told
    /// its descriptor (`ConnectionPipeline.configure`, or the echo listener's).
    static func bind(
        hub: Hub, loop: EpollLoop, nioLoops: any EventLoopGroup, host: String, port: Int,
        configure: @escaping @Sendable (any Channel, CInt) throws -> Void
    ) async throws -> OwnedListener {
        let configuration = hub.configuration
        let (metrics, logger) = (hub.metrics, hub.logger)
        let bound = try await loop.submit {
            var lastLogged: NIODeadline?
            let listener = try SocketListener(
                loop: loop, host: host, port: port,
                exhausted: { error in
                    metrics.acceptFailures.wrappingIncrement(ordering: .relaxed)
                    let now = NIODeadline.now()
                    guard lastLogged.map({ now - $0 >= AcceptBackoff.logInterval }) ?? true else { return }
                    lastLogged = now
                    logger.warning(
                        "cannot accept connections; pausing accepts",
                        metadata: [
                            "error": "\(String(cString: strerror(error)))",
                            "pause_ms": "\(SocketListener.pause.nanoseconds / 1_000_000)",
                        ])
                }
            ) { descriptor in
                adopt(descriptor, hub: hub, nioLoops: nioLoops, configuration: configuration, configure: configure)
            }
            return (listener.port, NIOLoopBound(listener, eventLoop: loop))
        }.get()
        return OwnedListener(port: bound.0, loop: loop, listener: bound.1)
    }

    /// The socket options NIO's listener gives its children, then the connection to NIO.
    private static func adopt(
        _ descriptor: CInt, hub: Hub, nioLoops: any EventLoopGroup, configuration: HubConfiguration,
        configure: @escaping @Sendable (any Channel, CInt) throws -> Void
    ) {
        var one: CInt = 1
        setsockopt(descriptor, CInt(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<CInt>.size))
        if configuration.socketSendBufferBytes > 0 {
            var bytes = CInt(clamping: configuration.socketSendBufferBytes)
            setsockopt(descriptor, SOL_SOCKET, SO_SNDBUF, &bytes, socklen_t(MemoryLayout<CInt>.size))
        }
        ClientBootstrap(group: nioLoops)
            .channelOption(.recvAllocator, value: ConnectionPipeline.receiveAllocator)
            .channelOption(.writeBufferWaterMark, value: ConnectionPipeline.writeBufferWaterMark(configuration))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try configure(channel, descriptor) }
            }
            .withConnectedSocket(descriptor)
            .whenFailure { error in
                hub.logger.warning("cannot serve an accepted connection", metadata: ["error": "\(error)"])
            }
    }

    func stop() async {
        let listener = self.listener
        try? await loop.submit { listener.value.stop() }.get()
    }
}
