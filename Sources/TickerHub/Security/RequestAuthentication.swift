import AccessControl
import FeedModel
import NIOCore
import NIOHTTP1

/// Which credential a request must present, and what it grants. With auth off (no verifier)
/// everything gets `AccessGrant.open`, and `/ingest` is guarded by the ingest secret alone.
/// With auth on:
/// - `/ws` needs a valid token; its `symbols` claim is the connection's entitlement.
/// - The market-data reads over HTTP, `/v1/symbols`, `/v1/snapshot`, `/v1/book`, `/v1/candles` and `/v1/instruments`,
///   need one too, and answer with the symbols it grants.
/// - `/ingest` takes the ingest secret (`--ingest-token`: any symbol), or a token with a `publish`
///   claim (its symbols); a valid token without one is refused with 403 `not_publisher`.
/// Health, the pages and their assets, the zstd dictionary and the operator endpoints need none:
/// they carry no prices (`--admin-port` keeps the operator's off the public listener).
struct RequestAuthentication: Sendable {
    enum Refusal: Error, Equatable {
        case token(TokenRefusal)
        case notPublisher

        var status: HTTPResponseStatus {
            switch self {
            case .token: .unauthorized
            case .notPublisher: .forbidden
            }
        }
        var code: String {
            switch self {
            case .token(let refusal): refusal.code
            case .notPublisher: "not_publisher"
            }
        }
        var message: String {
            switch self {
            case .token(let refusal): refusal.message
            case .notPublisher: "the access token has no \"publish\" claim"
            }
        }
        /// RFC 6750 §3: a 401 names the scheme, and why a presented token failed.
        var challenge: (String, String)? {
            switch self {
            case .token(.missing): ("WWW-Authenticate", "Bearer realm=\"tickerhub\"")
            case .token: ("WWW-Authenticate", "Bearer realm=\"tickerhub\", error=\"invalid_token\"")
            case .notPublisher: nil
            }
        }
    }

    let verifier: TokenVerifier
    var ingestCredential: IngestCredential?

    /// Paths whose answer is market data.
    static let dataPaths: Set<Substring> = [
        "/ws", "/v1/symbols", "/v1/snapshot", "/v1/book", "/v1/candles", "/v1/instruments",
    ]

    /// The grant for a request to `path`, or nil when that endpoint needs no token.
    func check(_ head: HTTPRequestHead, path: Substring, on eventLoop: any EventLoop) -> EventLoopFuture<
        Result<AccessGrant, Refusal>
    >? {
        switch path {
        case _ where Self.dataPaths.contains(path):
            return verifyPresentedToken(head, on: eventLoop)
        case "/ingest":
            if ingestCredential?.isPresented(in: head) == true { return eventLoop.makeSucceededFuture(.success(.open)) }
            return verifyPresentedToken(head, on: eventLoop).map { result in
                result.flatMap { $0.publish == nil ? .failure(.notPublisher) : .success($0) }
            }
        default:
            return nil
        }
    }

    private func verifyPresentedToken(_ head: HTTPRequestHead, on eventLoop: any EventLoop) -> EventLoopFuture<
        Result<AccessGrant, Refusal>
    > {
        guard let token = PresentedToken.find(in: head) else {
            return eventLoop.makeSucceededFuture(.failure(.token(.missing)))
        }
        return verifier.verify(String(token), on: eventLoop).map { $0.mapError { .token($0) } }
    }
}

/// The grant the connection's current request earned, from the gate that checked it to the
/// upgrader that builds the session, or the router that answers it. Per connection, on its loop.
final class RequestGrant {
    var grant: AccessGrant?
    /// A browser's handshake the gate refused: it is upgraded and closed at once with this code, so
    /// the page learns why (a browser shows an HTTP refusal as close 1006, nothing more).
    var refusedInBand: RefusedHandshake?
    /// The connection's place in the limits, once the gate admitted it (nil on an uncounted listener);
    /// handed over with the socket when the owned transport takes a subscriber (`ConnectionPlace`).
    var place: ConnectionPlace?
    /// Set when the WebSocket upgrader accepted the request: NIO then removes the HTTP decoder, and
    /// the bytes a client sent right behind the request come through as raw bytes, no longer HTTP
    /// parts. `AdmissionGate` sits between the two and passes everything on from then.
    var upgrading = false
}

/// Why a browser's WebSocket handshake was refused, as the Close it gets right after the upgrade:
/// `4000 + the HTTP status` it would otherwise get (4401 no or bad token, 4403 not allowed, 4429 too
/// many, 4503 hub full), and the refusal's code as the reason (`invalid_token`, `server_full`, ...).
/// This is what Centrifugo does for the same reason.
struct RefusedHandshake: Equatable, Sendable {
    let closeCode: UInt16
    let reason: String

    init(status: HTTPResponseStatus, code: String) {
        closeCode = CloseCode.refusedHandshake(httpStatus: Int(status.code)).rawValue
        reason = code
    }

    /// Only a browser's handshake to `/ws` (it sends `Origin`, and cannot read an HTTP refusal);
    /// native clients read the HTTP status and its JSON body, as before.
    static func applies(to head: HTTPRequestHead) -> Bool {
        HTTPRoutes.path(of: head.uri) == "/ws" && head.headers.contains(name: "Origin")
            && head.headers["Upgrade"].contains { $0.lowercased() == "websocket" }
    }
}
