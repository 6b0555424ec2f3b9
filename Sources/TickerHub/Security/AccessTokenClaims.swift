import AccessControl
import JWTKit

/// A token's claims as jwt-kit decodes them: `TokenClaims` (plain values, in AccessControl), read
/// once jwt-kit has checked the signature. Whether they hold (`exp`, `nbf`, `aud`, `iss`) is
/// `TokenClaims.check`, which `TokenVerifier` calls with the hub's settings.
struct AccessTokenClaims: JWTPayload, Equatable {
    var claims: TokenClaims

    init(from decoder: any Decoder) throws {
        claims = try TokenClaims(from: decoder)
    }

    func encode(to encoder: any Encoder) throws {
        try claims.encode(to: encoder)
    }

    /// jwt-kit calls this once the signature is good; the claims are checked by `TokenVerifier`,
    /// which knows the expected audience and issuer.
    func verify(using algorithm: some JWTAlgorithm) async throws {}
}
