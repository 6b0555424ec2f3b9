import NIOCore
import NIOWebSocket

/// What a session (`ConnectionSession`: a subscriber's, the echo's) needs of the connection that
/// carries it, whichever transport that is: a NIO channel (`SessionChannelHandler`), or a socket the
/// hub's own epoll loop serves (`OwnedWebSocketConnection`).
///
/// Data frames do not pass through it: they go, ready-built, to the connection's `FrameSink` (the
/// fan-out's market updates, an echo). This is the session's side: control frames, the Close
/// handshake, read gating and backlog facts.
///
/// Confined to `eventLoop`, like the session: every member is called on it.
protocol WebSocketConnection: AnyObject {
    var eventLoop: any EventLoop { get }
    var allocator: ByteBufferAllocator { get }
    var remoteAddress: SocketAddress? { get }
    /// Bytes queued in the hub for this connection that the kernel has not taken yet.
    var backlogBytes: Int { get }
    /// Whether the backlog is under the connection's high-water mark.
    var isWritable: Bool { get }
    /// Queues a control frame (a pong, a ping) behind what is queued already; `flush` sends it.
    func writeControl(_ opcode: WebSocketOpcode, payload: ByteBuffer)
    func flush()
    /// Reads again after the session held a read (`ReadGate`). The transport asks
    /// `SubscriberSession.mayRead()` before each read, so this may find reads still held.
    func resumeReading()
    /// Ends the connection the RFC 6455 way (`CloseHandshake`): one Close frame queued behind the
    /// backlog and flushed; once it is written, the sending half is shut; the connection closes when
    /// the peer closes its side, or after `grace`. Reading goes on meanwhile, and is ignored.
    func sendClose(_ closeFrame: ByteBuffer, grace: TimeAmount)
}
