import FanoutEngine
import NIOCore
import NIOWebSocket

/// The conformance listener's session (`--echo-port`): every text or binary message comes back as
/// it arrived, compressed again if permessage-deflate was agreed. It runs on the transport `/ws`
/// runs on (`SessionChannelHandler` on NIO, `OwnedWebSocketConnection` on the owned transport), with
/// `/ws`'s frame handling (the frame reader, `MessageAssembly`, `WebSocketControl`,
/// `CloseHandshake`, the negotiation), which is what conformance suites such as Autobahn exercise;
/// it has nothing to do with market data.
///
/// Backpressure: while the echoes are not taken off the socket (the connection is not writable), the
/// session reads no more, so a peer that sends without reading is slowed by TCP instead of growing
/// the hub's memory by up to 32 MiB a message.
final class EchoSession: ConnectionSession {
    private let connection: any WebSocketConnection
    /// Where the echoes go, ready-built (`RawFrameWriter`, or the owned connection itself).
    private let writer: any FrameSink
    private let deflater: MessageDeflater?
    private var control = WebSocketControl()
    /// `HubConfiguration.closeGrace`.
    private let closeGrace: TimeAmount

    init(connection: any WebSocketConnection, writer: any FrameSink, deflater: MessageDeflater?, closeGrace: TimeAmount)
    {
        self.connection = connection
        self.writer = writer
        self.deflater = deflater
        self.closeGrace = closeGrace
    }

    func start() {}

    func end() {}

    func mayRead() -> Bool {
        // After our Close, reading goes on (and is ignored) until the peer's Close arrives.
        connection.isWritable || control.closeSent
    }

    func received(_ frame: WebSocketFrame) {
        switch control.classify(frame) {
        case .message(let frame):
            if frame.opcode == .text, String(validating: frame.unmaskedData.readableBytesView, as: UTF8.self) == nil {
                return violation(code: .dataInconsistentWithMessage, reason: "invalid UTF-8")
            }
            writer.write(echo(frame))
        case .ping(let payload):
            connection.writeControl(.pong, payload: payload)
        case .pong, .handled:
            break
        case .peerClosed(let reply):
            close(code: reply)
        case .violation(let reason):
            violation(code: .protocolError, reason: reason)
        }
    }

    func readBurstEnded() {
        connection.flush()  // the echoes and pongs of this burst, in one write
    }

    func writabilityChanged() {
        if connection.isWritable { connection.resumeReading() }
    }

    func violation(code: WebSocketErrorCode, reason: String) {
        close(code: code)
    }

    func handle(_ event: any HubEvent) {
        if event is HubShutdownEvent { close(code: .goingAway) }
    }

    /// One final frame holding the message, ready to write.
    private func echo(_ frame: WebSocketFrame) -> ByteBuffer {
        var payload = frame.unmaskedData
        // A message may always go uncompressed (RFC 7692 §6), so a failure here is not fatal.
        var compressed = false
        if let deflater, let deflated = try? deflater.compress(payload) {
            payload = deflated
            compressed = true
        }
        var buffer = connection.allocator.buffer(
            capacity: WebSocketFrameBuilder.maxHeaderLength + payload.readableBytes)
        WebSocketFrameBuilder.build(frame.opcode == .binary ? .binary : .text, compressed: compressed, into: &buffer) {
            $0.writeBuffer(&payload)
        }
        return buffer
    }

    private func close(code: WebSocketErrorCode) {
        guard control.markCloseSent() else { return }
        connection.sendClose(
            CloseHandshake.payload(code: code, reason: "", allocator: connection.allocator), grace: closeGrace)
    }
}
