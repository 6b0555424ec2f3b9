import FanoutEngine
import NIOCore

/// Writes complete, pre-built WebSocket frames straight to the socket. Installed at the front of an
/// upgraded pipeline (next to the head), so a frame written through it skips `WebSocketFrameEncoder`
/// (which only accepts `WebSocketFrame`s). Everything else written by later handlers passes through
/// untouched, so ordering between the two paths is the order of the calls.
final class RawFrameWriter: ChannelOutboundHandler, FrameSink {
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var context: ChannelHandlerContext?
    /// Cached because `isWritable` is asked once per delivery, and `context.channel` walks the pipeline.
    private var channel: (any Channel)?

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        self.channel = context.channel
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        self.channel = nil
    }

    var isWritable: Bool { channel?.isWritable ?? false }

    func write(_ frame: ByteBuffer) {
        context?.write(wrapOutboundOut(frame), promise: nil)
    }

    func flush() {
        context?.flush()
    }
}
