import NIOCore
import NIOWebSocket

/// A `ConnectionSession` (a subscriber's, the echo's) carried by a NIO channel: the last handler of
/// an upgraded pipeline (`ConnectionPipeline`, `EchoListener`), turning pipeline events into the
/// session's calls and the session's requests into pipeline operations. Frames reach it whole, from
/// `MessageAssembler`; control frames and the Close go out through NIO's `WebSocketFrameEncoder`,
/// data frames through `RawFrameWriter`.
final class SessionChannelHandler: ChannelDuplexHandler, WebSocketSession, WebSocketConnection {
    typealias InboundIn = WebSocketFrame
    typealias OutboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    /// Set while the handler is in a pipeline.
    private var context: ChannelHandlerContext?
    /// Made with the handler, let go when it leaves the pipeline (the session holds the handler, as
    /// its connection, so the two form a cycle until then).
    private var session: (any ConnectionSession)?
    /// Where the hub's subscribers are listed, for its events and its shutdown; nil for the echo's
    /// connections, which are no subscribers.
    private let registry: ConnectionRegistry?
    let eventLoop: any EventLoop

    /// `makeSession` is called at once, with this handler as the session's connection.
    init(
        eventLoop: any EventLoop, registry: ConnectionRegistry?,
        makeSession: (any WebSocketConnection) throws -> any ConnectionSession
    ) rethrows {
        self.eventLoop = eventLoop
        self.registry = registry
        self.session = try makeSession(self)
    }

    // MARK: Pipeline events, to the session

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        registry?.add(context.channel)
        session?.start()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        session?.end()
        session = nil
        self.context = nil
        registry?.remove(context.channel)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? any HubEvent, let session {
            session.handle(event)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        session?.writabilityChanged()
        context.fireChannelWritabilityChanged()
    }

    func read(context: ChannelHandlerContext) {
        if session?.mayRead() ?? true { context.read() }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        session?.received(unwrapInboundIn(data))
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        session?.readBurstEnded()
        context.fireChannelReadComplete()
    }

    func violation(context: ChannelHandlerContext, code: WebSocketErrorCode, reason: String) {
        session?.violation(code: code, reason: reason)
    }

    // MARK: WebSocketConnection, for the session

    var allocator: ByteBufferAllocator { context?.channel.allocator ?? ByteBufferAllocator() }

    var remoteAddress: SocketAddress? { context?.remoteAddress }

    /// NIO's outbound buffer.
    var backlogBytes: Int { (try? context?.channel.syncOptions?.getOption(.bufferedWritableBytes)) ?? 0 }

    var isWritable: Bool { context?.channel.isWritable ?? false }

    func writeControl(_ opcode: WebSocketOpcode, payload: ByteBuffer) {
        context?.write(wrapOutboundOut(WebSocketFrame(fin: true, opcode: opcode, data: payload)), promise: nil)
    }

    func flush() { context?.flush() }

    func resumeReading() {
        guard let context else { return }
        read(context: context)
    }

    func sendClose(_ closeFrame: ByteBuffer, grace: TimeAmount) {
        guard let context else { return }
        CloseHandshake.send(closeFrame, context: context, grace: grace)
    }
}
