import FeedModel
import NIOCore
import NIOWebSocket

/// How a session ends on the hub's side: one Close frame, nothing after it (RFC 6455 §5.5.1), the
/// fan-out and the keep-alive sweep told at once, and the reason kept for the log line.
extension SubscriberSession {
    /// Closes the connection for a protocol violation (`code`), logged and counted.
    func violation(code: WebSocketErrorCode, reason: String) {
        hub.metrics.protocolViolations.wrappingIncrement(ordering: .relaxed)
        hub.logger.info("protocol violation", metadata: ["reason": "\(reason)", "remote": "\(remoteText)"])
        close(code: code, reason: reason)
    }

    /// Closes with one of the hub's codes that always says the same (`CloseCode.reason`).
    func close(_ code: CloseCode, grace: TimeAmount? = nil) {
        close(code: code.webSocketErrorCode, reason: code.reason ?? "", grace: grace)
    }

    /// Sends a close frame once; see `WebSocketControl`.
    func close(code: WebSocketErrorCode, reason: String, grace: TimeAmount? = nil) {
        guard isOpen, control.markCloseSent() else { return }
        pacing.drop()
        if closeReason == nil { closeReason = "\(UInt16(webSocketErrorCode: code)) \(reason)" }
        keepAlive.remove(self)
        // Nothing may follow the Close frame (RFC 6455 §5.5.1): no more fan-out, and what was corked is dropped.
        fanout.remove(subscriber)
        connection.sendClose(
            CloseHandshake.payload(code: code, reason: reason, allocator: connection.allocator),
            grace: grace ?? hub.configuration.closeGrace)
        // Read (and ignore) what the client still sends; see `ReadGate`.
        readIfHeld()
    }
}
