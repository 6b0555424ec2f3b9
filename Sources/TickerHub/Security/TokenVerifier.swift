import AccessControl
import JWTKit
import NIOCore

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Checks access tokens (JWTs, through jwt-kit) and turns a good one into an `AccessGrant`.
/// One key: an HMAC secret (HS256, `--auth-secret`) or a public key in PEM (`--auth-public-key`):
/// RSA for RS256, P-256 for ES256. A token must be signed with that key's algorithm; jwt-kit refuses
/// `alg: none` and a token whose `alg` names another (no HS256 signed with the public key). With
/// one key there is nothing for a `kid` header to choose, so it is not read.
struct TokenVerifier: Sendable {
    enum Key: Sendable, Equatable {
        case hmacSecret(String)
        case publicKeyPEM(String)
    }

    enum SetupError: Error, CustomStringConvertible {
        case unreadablePublicKey

        var description: String {
            "--auth-public-key is neither an RSA nor a P-256 (ES256) public key in PEM"
        }
    }

    /// The key collection, once the key is in it (jwt-kit's collection is an actor).
    private let keys: Task<JWTKeyCollection, Never>
    /// `HS256`, `RS256` or `ES256`, for the start-up log.
    let algorithm: String
    /// `--auth-audience`: a token's `aud` must name it (nil: `aud` is not checked).
    let audience: String?
    /// `--auth-issuer`: a token's `iss` must be it (nil: not checked).
    let issuer: String?

    /// Reads the key now, so that a bad one stops the hub at start-up with a clear message.
    init(key: Key, audience: String? = nil, issuer: String? = nil) throws {
        self.audience = audience
        self.issuer = issuer
        enum Parsed: Sendable {
            case hmac(HMACKey)
            case ecdsa(ES256PublicKey)
            case rsa(Insecure.RSA.PublicKey)
        }
        let parsed: Parsed
        switch key {
        case .hmacSecret(let secret):
            parsed = .hmac(HMACKey(from: secret))
            algorithm = "HS256"
        case .publicKeyPEM(let pem):
            if let ecdsa = try? ES256PublicKey(pem: pem) {
                parsed = .ecdsa(ecdsa)
                algorithm = "ES256"
            } else if let rsa = try? Insecure.RSA.PublicKey(pem: pem) {
                parsed = .rsa(rsa)
                algorithm = "RS256"
            } else {
                throw SetupError.unreadablePublicKey
            }
        }
        keys = Task {
            let keys = JWTKeyCollection()
            switch parsed {
            case .hmac(let key): await keys.add(hmac: key, digestAlgorithm: .sha256)
            case .ecdsa(let key): await keys.add(ecdsa: key)
            case .rsa(let key): await keys.add(rsa: key, digestAlgorithm: .sha256)
            }
            return keys
        }
    }

    /// The grant `token` carries, or why it carries none.
    func verify(_ token: String) async -> Result<AccessGrant, TokenRefusal> {
        do {
            let claims = try await keys.value.verify(token, as: AccessTokenClaims.self).claims
            let now = Date().timeIntervalSince1970
            if let refusal = claims.check(now: now, audience: audience, issuer: issuer) { return .failure(refusal) }
            return .success(claims.grant(now: now))
        } catch let refusal as TokenRefusal {
            return .failure(refusal)
        } catch let error as JWTError {
            return .failure(.invalid(Self.reason(error)))
        } catch {
            return .failure(.invalid("unreadable"))
        }
    }

    /// `verify`, for code on an event loop: the answer arrives on `eventLoop`.
    func verify(_ token: String, on eventLoop: any EventLoop) -> EventLoopFuture<Result<AccessGrant, TokenRefusal>> {
        eventLoop.makeFutureWithTask { await verify(token) }
    }

    /// A short reason for the client and the log; never the token itself.
    private static func reason(_ error: JWTError) -> String {
        switch error.errorType {
        case .signatureVerificationFailed: "bad signature"
        case .malformedToken: "malformed token"
        case .unsupportedAlgorithm, .signingAlgorithmFailure: "wrong algorithm"
        case .claimVerificationFailure: "a claim does not hold"
        default: "\(error.errorType)"
        }
    }
}
