import JWTKit

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The claims TickerHub reads from an access token (docs/PROTOCOL.md, "Authentication"):
///
///     { "sub": "desk-7", "exp": 1767225600, "symbols": ["AAPL", "FX:*"], "publish": false }
///
/// - `exp` is required: a market-data grant that never lapses cannot be taken back.
/// - `symbols`: what the holder may subscribe to; absent, nothing.
/// - `publish`: `true` (any symbol) or a list of patterns, for a publisher on `/ingest`; absent or
///   `false`, the token cannot publish.
struct AccessTokenClaims: JWTPayload, Equatable {
    var sub: SubjectClaim?
    var exp: ExpirationClaim?
    var nbf: NotBeforeClaim?
    /// Checked by `TokenVerifier` against `--auth-audience` and `--auth-issuer`, when those are set.
    var aud: AudienceClaim?
    var iss: IssuerClaim?
    var symbols: [String]?
    var publish: PublishClaim?

    /// Signature checked, jwt-kit calls this: the times are checked here so that an expired token is
    /// told apart from a forged one (401 `token_expired` against `invalid_token`).
    func verify(using algorithm: some JWTAlgorithm) async throws {
        guard let exp else { throw TokenRefusal.invalid("the token has no \"exp\"") }
        guard exp.value > Date() else { throw TokenRefusal.expired }
        if let nbf, nbf.value > Date() { throw TokenRefusal.invalid("the token is not valid yet (\"nbf\")") }
    }
}

/// `publish`: `true`, `false`, or a list of symbol patterns.
enum PublishClaim: Codable, Sendable, Equatable {
    case all(Bool)
    case patterns([String])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let flag = try? container.decode(Bool.self) {
            self = .all(flag)
        } else {
            self = .patterns(try container.decode([String].self))
        }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .all(let flag): try container.encode(flag)
        case .patterns(let patterns): try container.encode(patterns)
        }
    }

    var entitlement: SymbolEntitlement? {
        switch self {
        case .all(true): .everything
        case .all(false): nil
        case .patterns(let patterns): SymbolEntitlement(patterns: patterns)
        }
    }
}

/// Why a token was not accepted; each is a documented 401 code at the handshake, and an `error`
/// code for an `auth` request on a live connection.
enum TokenRefusal: Error, Equatable, Sendable {
    /// No token in the request (`Authorization: Bearer` or `?token=`).
    case missing
    /// Bad signature, wrong algorithm, unreadable, or a claim that does not hold.
    case invalid(String)
    /// The token was good but its `exp` has passed.
    case expired

    var code: String {
        switch self {
        case .missing: "token_required"
        case .invalid: "invalid_token"
        case .expired: "token_expired"
        }
    }

    var message: String {
        switch self {
        case .missing: "this hub requires an access token: Authorization: Bearer <jwt>, or ?token=<jwt>"
        case .invalid(let why): "the access token is not valid: \(why)"
        case .expired: "the access token has expired"
        }
    }
}
