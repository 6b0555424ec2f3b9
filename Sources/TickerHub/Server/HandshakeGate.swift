import NIOCore
import NIOHTTP1

/// Stands before the WebSocket upgrader and lets a handshake through only if `ConnectionLimits`
/// has room for it; otherwise it answers 503 or 429 itself and closes the connection. Plain HTTP
/// requests pass untouched. An admitted connection gives its place back when it closes. Removed
/// from the pipeline on upgrade, like the other HTTP handlers.
final class HandshakeGate: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart

    static let name = "tickerhub.handshake-gate"

    private let limits: ConnectionLimits
    private let onRefusal: @Sendable (ConnectionLimits.Refusal) -> Void
    /// Set once a handshake was refused: what is left of that request is dropped.
    private var refusing = false
    /// Whether this connection holds a place (released when it closes).
    private var admitted = false

    init(limits: ConnectionLimits, onRefusal: @escaping @Sendable (ConnectionLimits.Refusal) -> Void) {
        self.limits = limits
        self.onRefusal = onRefusal
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        if case .head(let head) = part, !admitted, Self.isHandshake(head) {
            let ip = context.remoteAddress?.ipAddress ?? "?"
            if let refusal = limits.admit(ip) {
                onRefusal(refusal)
                refuse(refusal, version: head.version, context: context)
                return
            }
            admitted = true
            let limits = self.limits
            context.channel.closeFuture.whenComplete { _ in limits.release(ip) }
        }
        guard !refusing else { return }
        context.fireChannelRead(data)
    }

    private static func isHandshake(_ head: HTTPRequestHead) -> Bool {
        head.headers[canonicalForm: "Upgrade"].contains { $0.lowercased() == "websocket" }
    }

    private func refuse(_ refusal: ConnectionLimits.Refusal, version: HTTPVersion, context: ChannelHandlerContext) {
        refusing = true
        HTTPResponse.error(refusal.status, code: refusal.code, message: refusal.message)
            .write(to: context, version: version, keepAlive: false,
                   extraHeaders: refusal == .serverFull ? [] : [("Retry-After", "1")])
    }
}
