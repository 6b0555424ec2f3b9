import NIOCore

/// Makes a connection read no faster than `bytesPerSecond`: a slow dashboard on a thin link, for
/// exercising the hub's backpressure. It sits first in the pipeline (raw bytes) and holds back the
/// pipeline's `read()` calls while the byte budget is spent, so the socket's receive buffer fills
/// and TCP pushes back on the hub. `release()` lifts the limit (to drain at the end of a run).
///
/// Pair it with a small `SO_RCVBUF` and a small fixed read size, or the kernel and one big read
/// would absorb what the throttle is meant to hold back.
final class ReadThrottle: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer

    /// The read size to pair with the throttle, in bytes.
    static let readSize = 2048
    /// The receive buffer to pair with the throttle, in bytes.
    static let receiveBuffer = 4096

    private var bytesPerSecond: Double?
    /// Bytes that may still be read now; negative after a read overdrew it.
    private var budget: Double
    private var refilledAt = NIODeadline.now()
    private var readScheduled = false
    private var context: ChannelHandlerContext?

    init(bytesPerSecond: Int) {
        self.bytesPerSecond = Double(bytesPerSecond)
        self.budget = Double(Self.readSize)
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        budget -= Double(unwrapInboundIn(data).readableBytes)
        context.fireChannelRead(data)
    }

    func read(context: ChannelHandlerContext) {
        guard let bytesPerSecond else { return context.read() }
        let now = NIODeadline.now()
        budget = min(budget + Double((now - refilledAt).nanoseconds) / 1e9 * bytesPerSecond, Double(Self.readSize))
        refilledAt = now
        if budget >= 0 {
            context.read()
        } else if !readScheduled {
            readScheduled = true
            let wait = TimeAmount.nanoseconds(Int64(-budget / bytesPerSecond * 1e9))
            let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
            context.eventLoop.scheduleTask(in: wait) {
                let throttle = loopBound.value
                throttle.readScheduled = false
                if let context = throttle.context { throttle.read(context: context) }
            }
        }
    }

    /// Stops throttling. Call on the channel's event loop.
    func release() {
        bytesPerSecond = nil
        if let context, !readScheduled { context.read() }
    }
}
