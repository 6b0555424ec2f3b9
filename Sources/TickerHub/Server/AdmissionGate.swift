import NIOCore
import NIOHTTP1

/// The door every request passes, before the upgrader and the router:
/// - a request head past `maxHeaderBytes` is answered 431 (NIO's parser has already stopped anything
///   past its own 80 KiB);
/// - a WebSocket handshake first needs room in `ConnectionLimits` (503 or 429); an admitted
///   connection gives its place back when it closes;
/// - with auth on, a request for market data (a handshake, `/v1/snapshot`, ...) needs a token
///   (`RequestAuthentication`: 401, or 403 for a publisher without the right).
/// A refused request is answered here and its connection closed; one let through carries its
/// grant in `RequestGrant`. Removed from the pipeline on upgrade, like the other HTTP handlers.
///
/// A token is checked off the event loop (jwt-kit is async); meanwhile what arrives of the request
/// waits here, a few parts at most, and the request deadline still runs.
final class AdmissionGate: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart

    static let name = "tickerhub.admission-gate"
    /// Parts of a request held while its token is checked: a handshake is a head and an end.
    static let maxHeldParts = 8

    enum Refusal {
        case headerTooLarge
        case limits(ConnectionLimits.Refusal)
        case authentication(RequestAuthentication.Refusal)
    }

    private enum State {
        case passing
        case verifying(held: [NIOAny])
        /// A handshake was refused: what is left of that request is dropped.
        case refusing
    }

    private let limits: ConnectionLimits
    private let maxHeaderBytes: Int
    private let authentication: RequestAuthentication?
    private let grant: RequestGrant
    private let onRefusal: (Refusal) -> Void
    private var state = State.passing
    /// Whether this connection holds a place (released when it closes).
    private var admitted = false
    private var removed = false

    init(limits: ConnectionLimits, maxHeaderBytes: Int, authentication: RequestAuthentication?, grant: RequestGrant,
         onRefusal: @escaping (Refusal) -> Void) {
        self.limits = limits
        self.maxHeaderBytes = maxHeaderBytes
        self.authentication = authentication
        self.grant = grant
        self.onRefusal = onRefusal
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        removed = true
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch state {
        case .refusing:
            return
        case .verifying(var held):
            guard held.count < Self.maxHeldParts else {
                refuse(.authentication(.token(.invalid("request too long"))), version: .http1_1, context: context)
                return
            }
            held.append(data)
            state = .verifying(held: held)
            return
        case .passing:
            break
        }
        if case .head(let head) = unwrapInboundIn(data) {
            guard Self.size(of: head) <= maxHeaderBytes else {
                refuse(.headerTooLarge, version: head.version, context: context)
                return
            }
            grant.grant = authentication == nil ? .open : nil
            if !admitted, Self.isHandshake(head) {
                let ip = context.remoteAddress?.ipAddress ?? "?"
                if let refusal = limits.admit(ip) {
                    refuse(.limits(refusal), version: head.version, context: context)
                    return
                }
                admitted = true
                let limits = self.limits
                context.channel.closeFuture.whenComplete { _ in limits.release(ip) }
            }
            if let check = authentication?.check(head, path: HTTPRoutes.path(of: head.uri), on: context.eventLoop) {
                state = .verifying(held: [data])
                check.assumeIsolated().whenSuccess { [self] result in
                    verified(result, version: head.version, context: context)
                }
                return
            }
        }
        context.fireChannelRead(data)
    }

    /// The token's answer: the held request goes on to the upgrader, or is refused.
    private func verified(_ result: Result<AccessGrant, RequestAuthentication.Refusal>, version: HTTPVersion, context: ChannelHandlerContext) {
        guard !removed, context.channel.isActive, case .verifying(let held) = state else { return }
        switch result {
        case .success(let accessGrant):
            grant.grant = accessGrant
            state = .passing
            for part in held { context.fireChannelRead(part) }
            context.fireChannelReadComplete()
        case .failure(let refusal):
            refuse(.authentication(refusal), version: version, context: context)
        }
    }

    /// The head as it came on the wire, near enough: request line, and each header's name, value and separators.
    private static func size(of head: HTTPRequestHead) -> Int {
        head.headers.reduce(head.uri.utf8.count + 16) { $0 + $1.name.utf8.count + $1.value.utf8.count + 4 }
    }

    private static func isHandshake(_ head: HTTPRequestHead) -> Bool {
        head.headers[canonicalForm: "Upgrade"].contains { $0.lowercased() == "websocket" }
    }

    private func refuse(_ refusal: Refusal, version: HTTPVersion, context: ChannelHandlerContext) {
        state = .refusing
        onRefusal(refusal)
        let response: HTTPResponse
        var headers: [(String, String)] = []
        switch refusal {
        case .headerTooLarge:
            response = .error(.requestHeaderFieldsTooLarge, code: "header_too_large",
                              message: "the request head is larger than \(maxHeaderBytes) bytes")
        case .limits(let limit):
            response = .error(limit.status, code: limit.code, message: limit.message)
            if limit != .serverFull { headers.append(("Retry-After", "1")) }
        case .authentication(let denial):
            response = .error(denial.status, code: denial.code, message: denial.message)
            if let challenge = denial.challenge { headers.append(challenge) }
        }
        response.write(to: context, version: version, keepAlive: false, extraHeaders: headers)
    }
}
