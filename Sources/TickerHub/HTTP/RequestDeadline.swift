import Atomics
import NIOCore
import NIOHTTP1

/// Closes a connection that does not finish its HTTP request in time: a client that opens a socket
/// and sends nothing, or its headers a byte at a time (slowloris), or a body that never ends, would
/// otherwise hold a file descriptor for as long as it likes, and enough of them lock everyone out.
///
/// A request has `--request-timeout` from its **first byte** (`FirstByteWatch` says when it came),
/// and an idle keep-alive connection as long from the end of its previous request. Before the first
/// byte the connection is given as long too, except in a connection storm: when thousands connect
/// at once, the kernel's accept queue overflows and it drops packets, and an honest client's request
/// can reach the hub seconds after its connection did, however quickly the client sent it (TCP
/// resends it at 0.2, 0.6, 1.4, 3 s, ...). Closing those as slowloris cut down a third of a 15,000
/// client reconnect storm. So while many connections are waiting for their first byte at once
/// (`FirstByteWaits`), a silent connection gets up to `FirstByteWaits.stormAllowance` instead; the
/// per-address connection limit still bounds what one client can hold that way.
///
/// A WebSocket upgrade removes this handler: from then on the session's own keep-alive rules apply.
/// Counted in `/stats` `requestTimeouts`.
final class RequestDeadline: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart

    static let name = "tickerhub.request-deadline"

    private let timeout: TimeAmount
    private let waits: FirstByteWaits
    private let onTimeout: @Sendable () -> Void
    private var timer: Scheduled<Void>?
    private var context: ChannelHandlerContext?
    /// When the connection was accepted, while no byte of it has arrived; nil after the first.
    private var waitingSince: NIODeadline?

    init(timeout: TimeAmount, waits: FirstByteWaits, onTimeout: @escaping @Sendable () -> Void) {
        self.timeout = timeout
        self.waits = waits
        self.onTimeout = onTimeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        waitingSince = context.eventLoop.now
        waits.began()
        arm(in: timeout)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        self.context = nil
        if waitingSince != nil {
            waitingSince = nil
            waits.ended()
        }
    }

    /// The connection's first byte arrived (`FirstByteWatch`): the request has `timeout` from now.
    func firstByteArrived() {
        guard waitingSince != nil else { return }
        waitingSince = nil
        waits.ended()
        arm(in: timeout)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .end:
            // The request is complete; the next one (keep-alive) gets a deadline of its own.
            arm(in: timeout)
        case .head, .body:
            break
        }
        context.fireChannelRead(data)
    }

    private func arm(in delay: TimeAmount) {
        timer?.cancel()
        guard let context else { return }
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(in: delay) { loopBound.value.expired() }
    }

    private func expired() {
        guard let context else { return }
        if let waitingSince, waits.isStorm {
            let giveUp = waitingSince + max(timeout, FirstByteWaits.stormAllowance)
            let now = context.eventLoop.now
            if now < giveUp {
                arm(in: min(timeout, giveUp - now))
                return
            }
        }
        onTimeout()
        context.close(promise: nil)
    }
}

/// Tells the connection's `RequestDeadline` when its first byte arrives, then leaves the pipeline.
/// It sits at the very front (before TLS, whose handshake is bytes of the request too), where the
/// deadline itself cannot: that one needs whole HTTP request parts.
final class FirstByteWatch: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    private let deadline: RequestDeadline

    init(deadline: RequestDeadline) {
        self.deadline = deadline
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        deadline.firstByteArrived()
        context.fireChannelRead(data)
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}

/// How many connections, hub-wide, are waiting for their first byte: many at once is a connection
/// storm, where the kernel delays honest requests (see `RequestDeadline`).
final class FirstByteWaits: Sendable {
    /// Waiting connections from which on the hub counts as in a storm. A quiet hub has a handful
    /// (clients between connect and request); a slowloris attacker is held to the per-address
    /// limit, so it takes many addresses to look like a storm, and buys each only `stormAllowance`.
    static let stormThreshold = 256
    /// The longest a connection may wait for its first byte during a storm: past TCP's resends of a
    /// dropped request (0.2 s doubling: 12.6 s for six), with room for a loaded client.
    static let stormAllowance = TimeAmount.seconds(30)

    private let waiting = ManagedAtomic(0)

    init() {}

    var count: Int { waiting.load(ordering: .relaxed) }
    var isStorm: Bool { count >= Self.stormThreshold }
    func began() { waiting.wrappingIncrement(ordering: .relaxed) }
    func ended() { waiting.wrappingDecrement(ordering: .relaxed) }
}
