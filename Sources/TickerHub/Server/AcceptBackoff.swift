import Logging
import NIOCore

/// What the listener does when `accept` fails, most often for want of file descriptors (EMFILE,
/// ENFILE): it stops accepting for `pause`, then tries again. The clients already connected are
/// served meanwhile; new ones wait in the listen backlog and are accepted once descriptors free up.
/// Each failure is counted (`acceptFailures`) and logged at most once per `logInterval`.
///
/// Why not NIO's `AcceptBackoffHandler`: it delays the *next* `read()`, but after a failed accept
/// the server channel's read is still pending, so no next `read()` comes, the socket stays
/// registered and readable (connections wait in the backlog), and level-triggered epoll wakes the
/// accepting loop, which also serves subscribers, over and over (measured: ~10,000 failing
/// `accept4` calls a second, 75% of a core). Switching `autoRead` off unregisters the socket from
/// epoll until the pause is over.
final class AcceptBackoff: ChannelInboundHandler {
    typealias InboundIn = any Channel

    static let pause = TimeAmount.milliseconds(250)
    static let logInterval = TimeAmount.seconds(10)

    private let metrics: HubMetrics
    private let logger: Logger
    private var paused = false
    private var lastLogged: NIODeadline?

    init(metrics: HubMetrics, logger: Logger) {
        self.metrics = metrics
        self.logger = logger
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard error is IOError else {
            context.fireErrorCaught(error)
            return
        }
        metrics.acceptFailures.wrappingIncrement(ordering: .relaxed)
        let now = NIODeadline.now()
        if lastLogged.map({ now - $0 >= Self.logInterval }) ?? true {
            lastLogged = now
            logger.warning(
                "cannot accept connections; pausing accepts",
                metadata: [
                    "error": "\(error)", "pause_ms": "\(Self.pause.nanoseconds / 1_000_000)",
                ])
        }
        guard !paused, let options = context.channel.syncOptions else { return }
        paused = true
        try? options.setOption(.autoRead, value: false)
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        context.eventLoop.scheduleTask(in: Self.pause) {
            let (backoff, context) = loopBound.value
            backoff.paused = false
            try? context.channel.syncOptions?.setOption(.autoRead, value: true)
        }
    }
}
