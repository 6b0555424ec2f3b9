import AccessControl
import Foundation
import JWTKit
import NIOCore
import NIOHTTP1
import Testing
@testable import TickerHub

/// Access tokens: the entitlement patterns, and `TokenVerifier` with each algorithm it takes and
/// the tokens it must refuse (forged, expired, another algorithm, `alg: none`). The handshake and
/// live-connection rules are tested end to end in IntegrationTests/test_auth_and_tls.py.
@Suite struct AccessTokenTests {
    static let secret = "a-test-secret-of-at-least-32-bytes!!"

    // MARK: Entitlements

    @Test func entitlementMatchesNamesAndPrefixes() {
        let entitlement = SymbolEntitlement(patterns: ["AAPL", "EUR/*", "MS*"])
        #expect(entitlement.allows("AAPL"))
        #expect(!entitlement.allows("AAPLX"), "a name is exact")
        #expect(entitlement.allows("EUR/USD") && entitlement.allows("MSFT") && entitlement.allows("MS"))
        #expect(!entitlement.allows("GOOG") && !entitlement.allows("EUR"))
        #expect(!entitlement.isEverything)
        let (allowed, refused) = entitlement.partition(["GOOG", "MSFT", "AAPL", "EUR"])
        #expect(allowed == ["MSFT", "AAPL"] && refused == ["GOOG", "EUR"], "each in its original order")
    }

    @Test func starAloneIsEverythingAndNothingIsNothing() {
        #expect(SymbolEntitlement(patterns: ["AAPL", "*"]).isEverything)
        #expect(SymbolEntitlement.everything.allows("ANYTHING"))
        #expect(!SymbolEntitlement.nothing.allows("AAPL"))
        #expect(SymbolEntitlement.nothing.partition(["AAPL"]).refused == ["AAPL"])
    }

    // MARK: Verification

    struct Claims: JWTPayload {
        var sub: SubjectClaim?
        var exp: ExpirationClaim?
        var symbols: [String]?
        var publish: PublishClaim?
        func verify(using algorithm: some JWTAlgorithm) async throws {}
    }

    static func claims(
        expiresIn seconds: Double? = 60, symbols: [String]? = ["AAPL", "MS*"], publish: PublishClaim? = nil
    ) -> Claims {
        Claims(
            sub: "desk-7", exp: seconds.map { ExpirationClaim(value: Date().addingTimeInterval($0)) }, symbols: symbols,
            publish: publish)
    }

    static func hmacToken(_ claims: Claims, secret: String = secret) async throws -> String {
        let keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
        return try await keys.sign(claims)
    }

    @Test func aGoodHS256TokenGrantsItsSymbols() async throws {
        let verifier = try TokenVerifier(key: .hmacSecret(Self.secret))
        #expect(verifier.algorithm == "HS256")
        let claims = Self.claims()
        let grant = try await verifier.verify(Self.hmacToken(claims)).get()
        #expect(grant.subject == "desk-7")
        #expect(grant.symbols.allows("AAPL") && grant.symbols.allows("MSFT") && !grant.symbols.allows("GOOG"))
        #expect(grant.publish == nil, "no publish claim: not a publisher")
        // `exp` travels in whole seconds; the monotonic deadline is what is left of it now.
        let exp = try #require(claims.exp).value.timeIntervalSince1970.rounded(.down)
        #expect(abs(try #require(grant.expiresAtMilliseconds) - Int64(exp * 1000)) <= 1000)
        let remaining = try #require(grant.expiresAt) - .now()
        #expect(remaining > .zero && remaining <= .seconds(60))
        #expect(!grant.hasExpired(at: .now()))
    }

    @Test func publishClaimsBecomePublishEntitlements() async throws {
        let verifier = try TokenVerifier(key: .hmacSecret(Self.secret))
        let all = try await verifier.verify(Self.hmacToken(Self.claims(publish: .all(true)))).get()
        #expect(all.publish == .everything)
        let some = try await verifier.verify(Self.hmacToken(Self.claims(publish: .patterns(["EUR/*"])))).get()
        #expect(some.publish?.allows("EUR/USD") == true && some.publish?.allows("AAPL") == false)
        let none = try await verifier.verify(Self.hmacToken(Self.claims(publish: .all(false)))).get()
        #expect(none.publish == nil)
    }

    @Test func noSymbolsClaimGrantsNothing() async throws {
        let verifier = try TokenVerifier(key: .hmacSecret(Self.secret))
        let grant = try await verifier.verify(Self.hmacToken(Self.claims(symbols: nil))).get()
        #expect(!grant.symbols.allows("AAPL"))
    }

    @Test func forgedExpiredAndMalformedTokensAreRefused() async throws {
        let verifier = try TokenVerifier(key: .hmacSecret(Self.secret))
        let forged = try await Self.hmacToken(Self.claims(), secret: "another-secret-of-at-least-32-bytes!!")
        #expect(await verifier.verify(forged) == .failure(.invalid("bad signature")))
        #expect(await verifier.verify(try Self.hmacToken(Self.claims(expiresIn: -5))) == .failure(.expired))
        guard case .failure(.invalid) = await verifier.verify(try Self.hmacToken(Self.claims(expiresIn: nil))) else {
            Issue.record("a token without exp must be refused")
            return
        }
        for garbage in ["", "not.a.jwt", "a.b", "eyJhbGciOiJIUzI1NiJ9.e30.", String(repeating: "x", count: 5000)] {
            guard case .failure(.invalid) = await verifier.verify(garbage) else {
                Issue.record("\(garbage.prefix(20)) must be refused as invalid")
                continue
            }
        }
    }

    /// The token's `exp` is the issuer's number: "never" (year 9999), or 1e300, must give a grant,
    /// not a trap converting seconds to nanoseconds.
    @Test func aFarFutureExpiryIsClampedNotTrappedOn() async throws {
        let verifier = try TokenVerifier(key: .hmacSecret(Self.secret))
        for exp in [253_402_300_799, 1e18, 1e300] {
            var claims = Self.claims()
            claims.exp = ExpirationClaim(value: Date(timeIntervalSince1970: exp))
            let grant = try await verifier.verify(Self.hmacToken(claims)).get()
            #expect(
                grant.expiresAtMilliseconds == TokenClaims.latestExpiryMilliseconds,
                "9999-12-31 or later, told as 9999-12-31")
            #expect(!grant.hasExpired(at: .now() + .hours(24 * 365 * 50)))
        }
        #expect(
            TokenClaims.saturatingInt64(.nan, max: 10) == 0 && TokenClaims.saturatingInt64(-.infinity, max: 10) == 0)
        #expect(TokenClaims.saturatingInt64(.infinity, max: 10) == 10 && TokenClaims.saturatingInt64(9.9, max: 10) == 9)
    }

    struct AudienceClaims: JWTPayload {
        var sub: SubjectClaim = "desk-7"
        var exp = ExpirationClaim(value: Date().addingTimeInterval(60))
        var aud: AudienceClaim?
        var iss: IssuerClaim?
        func verify(using algorithm: some JWTAlgorithm) async throws {}
    }

    @Test func audienceAndIssuerAreCheckedWhenConfigured() async throws {
        let keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(from: Self.secret), digestAlgorithm: .sha256)
        let strict = try TokenVerifier(
            key: .hmacSecret(Self.secret), audience: "tickerhub", issuer: "https://login.example")
        let lax = try TokenVerifier(key: .hmacSecret(Self.secret))
        let good = try await keys.sign(
            AudienceClaims(aud: AudienceClaim(value: ["other", "tickerhub"]), iss: "https://login.example"))
        let wrongAudience = try await keys.sign(AudienceClaims(aud: "other", iss: "https://login.example"))
        let noAudience = try await keys.sign(AudienceClaims(iss: "https://login.example"))
        let wrongIssuer = try await keys.sign(AudienceClaims(aud: "tickerhub", iss: "https://evil.example"))
        #expect(try await strict.verify(good).get().subject == "desk-7")
        for token in [wrongAudience, noAudience, wrongIssuer] {
            guard case .failure(.invalid) = await strict.verify(token) else {
                Issue.record("a token for another audience or from another issuer was accepted")
                return
            }
            #expect(try await lax.verify(token).get().subject == "desk-7", "unchecked when not configured")
        }
    }

    @Test func algNoneIsRefused() async throws {
        let verifier = try TokenVerifier(key: .hmacSecret(Self.secret))
        // {"alg":"none","typ":"JWT"} . a valid payload . no signature
        let header = Data(#"{"alg":"none","typ":"JWT"}"#.utf8).base64URLEncodedString()
        let exp = Int(Date().timeIntervalSince1970) + 60
        let payload = Data(#"{"sub":"desk-7","exp":\#(exp),"symbols":["*"]}"#.utf8).base64URLEncodedString()
        guard case .failure(.invalid) = await verifier.verify("\(header).\(payload).") else {
            Issue.record("alg none must be refused")
            return
        }
    }

    @Test func es256TokensVerifyWithThePublicKeyPEM() async throws {
        let privateKey = ES256PrivateKey()
        let verifier = try TokenVerifier(key: .publicKeyPEM(privateKey.publicKey.pemRepresentation))
        #expect(verifier.algorithm == "ES256")
        let keys = JWTKeyCollection()
        await keys.add(ecdsa: privateKey)
        let token = try await keys.sign(Self.claims())
        #expect(try await verifier.verify(token).get().subject == "desk-7")
        // Another key's signature is refused.
        let other = JWTKeyCollection()
        await other.add(ecdsa: ES256PrivateKey())
        guard case .failure(.invalid) = await verifier.verify(try await other.sign(Self.claims())) else {
            Issue.record("a token signed by another key must be refused")
            return
        }
    }

    static let rsaPrivateKeyPEM = """
        -----BEGIN PRIVATE KEY-----
        MIIEvAIBADANBgkqhkiG9w0BAQEFAASCBKYwggSiAgEAAoIBAQCqNUMv4Rz5vWpJ
        Hp0u/9hsn7ozVxML8AESS3a043gmAIQDGFRv/IFfTMzFdmH5BCZ1GcuxHbncVmSP
        LbDibUGJ84z8qCZiQYq7Z5dRH6j5bsWEXIHUkf+6V8TgLzo++4yqnIhG38H44ycf
        zeR8PhLr7+WBYInbp09Rs/5hmwHx9F9Ca7PzZWgulgJB+YJr8mMGc7xotU5x41PF
        eUQ4qsgK5n6d5jeoK/bLfoHfvvT6yE0pxFjZ4P4EiuZOSARhN5J6OaTxabzAi1hi
        ve+U7Du3L2hW81cddTuhA4yhahWgz2cc6IVZtNnqqDEZFh9Kx4hYD0Jhxhog1f2g
        8faivovTAgMBAAECgf9SxpRmNJRi4DtQVBMdSE94hDWJwk8A/zeGLi0My5Mi6B1L
        ZAmsbKB+OFtdrLT45YvOZz0oZcx924YMG6xqcbft3wQx25TPNBDEEx0D1uHWbIii
        VlrNhjNX7FdSr6Uj/DHsxzN/RFKRN+dPEFKOGaIaHBEBWnGw4S0yDtcnoLrRb7oJ
        SzsLNt1Tnocd/o0cTmYUoh9czBugMmqsEO4st/4yDot+cyhfHOBAGzQeBIVNHjSH
        YAsHOB3/FwrJcwjPuPQx0p1y3M5zWahO1/20VRgz/ANJUTJEJR4uryfVqs8n/10B
        MTsCVFnnyknkLVCyiureB6pL6W4Vw0mNHYKQIpECgYEA7qDQypnA3jDUJQyinSAz
        P9oJiIDgsZhiHk7y+RFNvg1gWuHRjSR4d3c5eEEA2H+jVxxPpQkPXKKex0xFNywl
        tBOEXOFA4oGzPnNXfLgHODSsADWlq5nVH10YiDdzoZRchaxlO3I1cBWCZNsVyBwI
        qUFvhKX0+oxFgowpu2xC56MCgYEAtplWgdg2uCwOPmSWSt0A6twn/GVs1Y3TXttQ
        nva8TwzX5OpbS0RuGtr9Kg9hTCWGnlx0jflnb5b1S3hC6XVQCcCc/4mF4trLirPE
        a5EtZRuKKNu9xQupmgzOkDLPFtp3+yNKQksZ6uRHU5Ru87a/qc/K2uCrpT3ObhkY
        TFL4zhECgYEAuZwcy3oMqscQPEE3uz/wnRnbkHGuVHVS3IBMPa9X6Rw+dnJvrHlR
        uprh+MeXAM9HHdrHmHcTm9ph5mNM8z1Dlm4X5qbO8WAxK8JLqpb6Bp3xq7gOxQtC
        2sJu8oUvS986mD8f/r03E5endQt0RdKIah6bv3HWu4ugBYtAaqgq4kECgYEAnOkF
        ooym8PrCvrD3SZvClw/auJR7wsOeOGwkSoXiadeyin8tNm+2YhN+667NwH6awOjY
        K8x/KzBA17qfXTi3L7o574lA6SF1OVqjVoApzzGsNtIlr/cGpl+M/fL7bDsOUVwR
        Cwi4W9YQyOzLr1iCOS1bt1zLgzKqeofMDoJaVdECgYA7mLuzNGCS+9tl0PjfO0cT
        0CAZFhVUKiPQ0k1iYI+N9M+s2c/Um2YdRbtkNIILAGJ0XhgMpokeo7jDsgqggKKj
        a9NpfC09hP/gAnABMldVt+5eUWV86mRxRCb++HGFpXgz3rbz7Hu0c9HC0ekJJnHZ
        CnSwT+8xLWHkhVl819sZPw==
        -----END PRIVATE KEY-----
        """

    @Test func rs256TokensVerifyAndTheHMACConfusionIsRefused() async throws {
        let privateKey = try Insecure.RSA.PrivateKey(pem: Self.rsaPrivateKeyPEM)
        let publicPEM = privateKey.publicKey.pemRepresentation
        let verifier = try TokenVerifier(key: .publicKeyPEM(publicPEM))
        #expect(verifier.algorithm == "RS256")
        let keys = JWTKeyCollection()
        await keys.add(rsa: privateKey, digestAlgorithm: .sha256)
        #expect(try await verifier.verify(try await keys.sign(Self.claims())).get().subject == "desk-7")
        // The classic attack: an HS256 token whose HMAC key is the (public) RSA key's PEM.
        let confused = try await Self.hmacToken(Self.claims(), secret: publicPEM)
        guard case .failure(.invalid) = await verifier.verify(confused) else {
            Issue.record("an HS256 token keyed with the public key must be refused by an RS256 hub")
            return
        }
    }

    @Test func aKeyThatIsNotAPublicKeyStopsStartUp() {
        #expect(throws: TokenVerifier.SetupError.self) {
            try TokenVerifier(key: .publicKeyPEM("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"))
        }
    }

    // MARK: Where the token is found

    @Test func theTokenComesFromTheBearerHeaderOrTheQuery() {
        var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: "/ws?token=fromquery")
        #expect(PresentedToken.find(in: head) == "fromquery")
        head.headers.add(name: "Authorization", value: "Bearer fromheader")
        #expect(PresentedToken.find(in: head) == "fromheader", "the header wins")
        #expect(PresentedToken.find(in: HTTPRequestHead(version: .http1_1, method: .GET, uri: "/ws?token=")) == nil)
        var basic = HTTPRequestHead(version: .http1_1, method: .GET, uri: "/ws")
        basic.headers.add(name: "Authorization", value: "Basic Zm9vOmJhcg==")
        #expect(PresentedToken.find(in: basic) == nil)
    }
}

extension Data {
    fileprivate func base64URLEncodedString() -> String {
        base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
