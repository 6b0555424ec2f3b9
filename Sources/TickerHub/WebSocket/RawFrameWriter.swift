import FanoutEngine
import NIOCore

/// Writes complete, pre-built WebSocket frames straight to the socket. Installed at the front of an
/// upgraded pipeline (next to the head), so a frame written through it skips `WebSocketFrameEncoder`
/// (which only accepts `WebSocketFrame`s). Everything else written by later handlers passes through
/// untouched, so ordering between the two paths is the order of the calls.
///
/// It reports the channel's writability to its subscriber (`Subscriber.isWritable`), from
/// `channelWritabilityChanged`, which it sees first, next to the head: the fan-out asks before every
/// delivery, and a stored Bool on the subscriber costs nothing where a walk to the channel and an
/// atomic load cost a cold cache line or two. NIO raises the event synchronously inside the write
/// that crosses the high-water mark, so the stored value is never behind a write.
final class RawFrameWriter: ChannelDuplexHandler, FrameSink {
    typealias InboundIn = NIOAny
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var context: ChannelHandlerContext?
    /// Strong, and let go in `handlerRemoved` (the subscriber holds this sink, so the two form a cycle
    /// while the connection lives). Not weak: a weakly referenced object gets a side table, and every
    /// retain and release of the subscriber, several per delivery, would take the slow path.
    private var subscriber: Subscriber?

    func attach(_ subscriber: Subscriber) {
        self.subscriber = subscriber
        subscriber.isWritable = context?.channel.isWritable ?? true
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        subscriber?.isWritable = context.channel.isWritable
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        subscriber?.isWritable = false
        subscriber = nil
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        subscriber?.isWritable = context.channel.isWritable
        context.fireChannelWritabilityChanged()
    }

    func write(_ frames: ByteBuffer) {
        context?.write(wrapOutboundOut(frames), promise: nil)
    }

    func flush() {
        context?.flush()
    }

    var connectionIsWritable: Bool {
        context?.channel.isWritable ?? false
    }
}
