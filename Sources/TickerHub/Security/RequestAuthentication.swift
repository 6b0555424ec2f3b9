import AccessControl
import NIOCore
import NIOHTTP1

/// Which credential a request must present, and what it grants. With auth off (no verifier)
/// everything gets `AccessGrant.open`, and `/ingest` is guarded by the ingest secret alone.
/// With auth on:
/// - `/ws` needs a valid token; its `symbols` claim is the connection's entitlement.
/// - The market-data reads over HTTP, `/v1/symbols` and `/v1/snapshot`, need one too, and answer
///   with the symbols it grants.
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
    static let dataPaths: Set<Substring> = ["/ws", "/v1/symbols", "/v1/snapshot"]

    /// The grant for a request to `path`, or nil when that endpoint needs no token.
    func check(_ head: HTTPRequestHead, path: Substring, on eventLoop: any EventLoop) -> EventLoopFuture<Result<AccessGrant, Refusal>>? {
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

    private func verifyPresentedToken(_ head: HTTPRequestHead, on eventLoop: any EventLoop) -> EventLoopFuture<Result<AccessGrant, Refusal>> {
        guard let token = PresentedToken.find(in: head) else { return eventLoop.makeSucceededFuture(.failure(.token(.missing))) }
        return verifier.verify(String(token), on: eventLoop).map { $0.mapError { .token($0) } }
    }
}

/// The grant the connection's current request earned, from the gate that checked it to the
/// upgrader that builds the session, or the router that answers it. Per connection, on its loop.
final class RequestGrant {
    var grant: AccessGrant?
}
