import NIOWebSocket

/// What a transport calls on the WebSocket session it carries, whichever transport that is: a NIO
/// channel (`SessionChannelHandler`) or a socket on the hub's own epoll loop
/// (`OwnedWebSocketConnection`). The session's way back is `WebSocketConnection`.
///
/// Frames arrive whole (continuations merged, payloads inflated, control frames checked), and
/// framing errors as `violation`. Confined to the connection's event loop: every call is made there.
protocol ConnectionSession: AnyObject {
    /// The connection is ready for the session's first words.
    func start()
    /// The connection is gone; nothing more will be called but `end` again, which does nothing.
    func end()
    /// Asked before each read: false holds reads until the session calls
    /// `WebSocketConnection.resumeReading`.
    func mayRead() -> Bool
    /// One whole frame from the peer.
    func received(_ frame: WebSocketFrame)
    /// The transport read all it had for now: the moment to flush what the reads asked for.
    func readBurstEnded()
    /// `WebSocketConnection.isWritable` changed.
    func writabilityChanged()
    /// The peer broke the protocol (`CloseHandshake.closeCode` gives `code`): close with it.
    func violation(code: WebSocketErrorCode, reason: String)
    /// An event the hub sent every connection (`ConnectionRegistry`).
    func handle(_ event: any HubEvent)
}
