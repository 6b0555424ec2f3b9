import AccessControl
import FuzzSupport
import NIOCore

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// One input from libFuzzer: a token's claims, as the JSON a signed token carries (the signature is
/// checked first, but whoever holds the key, or a bug in the issuer, can put any value in them).
/// Decoding, checking (`exp`, `nbf`, `aud`, `iss`) and granting must return, never trap, and the
/// grant must stay within its bounds:
/// - its expiry is in the future, at most `longestLifetimeNanoseconds` ahead, and the `exp` a
///   client is told is at most 9999-12-31;
/// - its entitlements answer every name alike through `allows` and `partition`, and grant each
///   exact name the claim lists.
@main
enum FuzzTokenClaims {
    static func main() { FuzzerDriver.run(fuzzOne) }
}

/// A fixed moment, so that a finding replays the same: 2026-12-03, and a monotonic clock at 1 h.
private let now = 1_796_256_000.0
private let monotonicNow = NIODeadline.uptimeNanoseconds(3_600_000_000_000)

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard let claims = try? JSONDecoder().decode(TokenClaims.self, from: Data(bytes: data, count: size)) else {
        return 0
    }
    for (audience, issuer) in [(nil, nil), ("tickerhub", "https://login.example") as (String?, String?)] {
        if let refusal = claims.check(now: now, audience: audience, issuer: issuer) {
            precondition(!refusal.code.isEmpty && !refusal.message.isEmpty)
            continue
        }
        let grant = claims.grant(now: now, monotonicNow: monotonicNow)
        guard let expiresAt = grant.expiresAt, let told = grant.expiresAtMilliseconds else {
            preconditionFailure("no expiry")
        }
        precondition(expiresAt >= monotonicNow, "a grant that lapsed before it began")
        precondition(expiresAt <= monotonicNow + .nanoseconds(TokenClaims.longestLifetimeNanoseconds))
        precondition((0...TokenClaims.latestExpiryMilliseconds).contains(told))
        precondition(grant.subject == claims.sub)
        check(grant.symbols, grants: claims.symbols ?? [])
        if case .patterns(let patterns) = claims.publish, let publish = grant.publish {
            check(publish, grants: patterns)
        }
    }
    return 0
}

/// `allows` and `partition` agree, and every exact name of `patterns` is allowed.
private func check(_ entitlement: SymbolEntitlement, grants patterns: [String]) {
    let names = patterns.prefix(64).map { $0.hasSuffix("*") ? String($0.dropLast()) + "X" : $0 } + ["AAPL", "", "*"]
    let (allowed, refused) = entitlement.partition(names)
    precondition(allowed.count + refused.count == names.count)
    for name in allowed { precondition(entitlement.allows(name)) }
    for name in refused { precondition(!entitlement.allows(name)) }
    for pattern in patterns.prefix(64) where !pattern.hasSuffix("*") {
        precondition(entitlement.allows(pattern), "\(pattern) is granted by name")
    }
}
