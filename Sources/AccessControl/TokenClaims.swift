import NIOCore

/// The claims TickerHub reads from an access token (docs/PROTOCOL.md, "Authentication"), as the
/// token carries them, and what they grant:
///
///     { "sub": "desk-7", "exp": 1767225600, "symbols": ["AAPL", "FX:*"], "publish": false }
///
/// - `exp` is required: a market-data grant that never lapses cannot be taken back.
/// - `nbf`, if there, must have passed.
/// - `aud` and `iss` are checked against `--auth-audience` and `--auth-issuer` when those are set.
/// - `symbols`: what the holder may subscribe to; absent, nothing.
/// - `publish`: `true` (any symbol) or a list of patterns, for a publisher on `/ingest`; absent or
///   `false`, the token cannot publish.
///
/// Every value here is the issuer's, and a token signed with the right key can still carry any
/// number: times are JSON numbers (RFC 7519 NumericDate, possibly fractional, possibly 1e300),
/// so they are kept as `Double` and never converted to an integer without a bound. Plain values
/// with no JWT library, so that the claims can be fuzzed on their own (`Fuzz/`); the signature is
/// checked before any of this is read (`TokenVerifier`, with jwt-kit).
public struct TokenClaims: Codable, Sendable, Equatable {
    public var sub: String?
    /// Seconds since the Unix epoch.
    public var exp: Double?
    public var nbf: Double?
    public var aud: Audience?
    public var iss: String?
    public var symbols: [String]?
    public var publish: PublishClaim?

    public init(
        sub: String? = nil, exp: Double? = nil, nbf: Double? = nil, aud: Audience? = nil, iss: String? = nil,
        symbols: [String]? = nil, publish: PublishClaim? = nil
    ) {
        self.sub = sub
        self.exp = exp
        self.nbf = nbf
        self.aud = aud
        self.iss = iss
        self.symbols = symbols
        self.publish = publish
    }

    /// `aud`: one string or a list of them (RFC 7519 §4.1.3).
    public struct Audience: Codable, Sendable, Equatable {
        public var values: [String]

        public init(_ values: [String]) {
            self.values = values
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let one = try? container.decode(String.self) {
                values = [one]
            } else {
                values = try container.decode([String].self)
            }
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            if values.count == 1 { try container.encode(values[0]) } else { try container.encode(values) }
        }
    }

    /// The longest a grant is kept on the hub's monotonic clock: 100 years, past any real token and
    /// far from `NIODeadline`'s overflow.
    public static let longestLifetimeNanoseconds: Int64 = 100 * 365 * 86_400 * 1_000_000_000
    /// The latest `exp` told to a client (`welcome`, the `auth` ack): 9999-12-31T23:59:59Z, which
    /// also keeps it exact in a JavaScript number.
    public static let latestExpiryMilliseconds: Int64 = 253_402_300_799_000

    /// Whether the claims hold at `now` (seconds since the epoch), for a hub that expects
    /// `audience` and `issuer` (nil: not checked). Times first, so that an expired token is told
    /// apart from a forged one (401 `token_expired` against `invalid_token`).
    public func check(now: Double, audience: String? = nil, issuer: String? = nil) -> TokenRefusal? {
        guard let exp else { return .invalid("the token has no \"exp\"") }
        // `!(exp > now)` rather than `exp <= now`: a NaN is no expiry either.
        guard exp > now else { return .expired }
        if let nbf, !(nbf <= now) { return .invalid("the token is not valid yet (\"nbf\")") }
        if let audience, !(aud?.values.contains(audience) ?? false) {
            return .invalid("the token is not for this audience (\"aud\")")
        }
        if let issuer, iss != issuer { return .invalid("the token is not from the expected issuer (\"iss\")") }
        return nil
    }

    /// What the claims grant, once `check` has passed: `now` is the wall clock (seconds since the
    /// epoch) and `monotonicNow` the hub's clock at the same moment.
    public func grant(now: Double, monotonicNow: NIODeadline = .now()) -> AccessGrant {
        let exp = self.exp ?? now
        return AccessGrant(
            subject: sub,
            expiresAt: monotonicNow
                + .nanoseconds(Self.saturatingInt64((exp - now) * 1e9, max: Self.longestLifetimeNanoseconds)),
            expiresAtMilliseconds: Self.saturatingInt64(exp * 1000, max: Self.latestExpiryMilliseconds),
            symbols: SymbolEntitlement(patterns: symbols ?? []),
            publish: publish?.entitlement)
    }

    /// `value` rounded toward zero into `0...max`; NaN is 0. Never traps, whatever the token says.
    public static func saturatingInt64(_ value: Double, max: Int64) -> Int64 {
        guard value > 0 else { return 0 }
        guard value < Double(max) else { return max }
        return Int64(value)
    }
}

/// `publish`: `true`, `false`, or a list of symbol patterns.
public enum PublishClaim: Codable, Sendable, Equatable {
    case all(Bool)
    case patterns([String])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let flag = try? container.decode(Bool.self) {
            self = .all(flag)
        } else {
            self = .patterns(try container.decode([String].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .all(let flag): try container.encode(flag)
        case .patterns(let patterns): try container.encode(patterns)
        }
    }

    public var entitlement: SymbolEntitlement? {
        switch self {
        case .all(true): .everything
        case .all(false): nil
        case .patterns(let patterns): SymbolEntitlement(patterns: patterns)
        }
    }
}

/// Why a token was not accepted; each is a documented 401 code at the handshake, and an `error`
/// code for an `auth` request on a live connection.
public enum TokenRefusal: Error, Equatable, Sendable {
    /// No token in the request (`Authorization: Bearer` or `?token=`).
    case missing
    /// Bad signature, wrong algorithm, unreadable, or a claim that does not hold.
    case invalid(String)
    /// The token was good but its `exp` has passed.
    case expired

    public var code: String {
        switch self {
        case .missing: "token_required"
        case .invalid: "invalid_token"
        case .expired: "token_expired"
        }
    }

    public var message: String {
        switch self {
        case .missing: "this hub requires an access token: Authorization: Bearer <jwt>, or ?token=<jwt>"
        case .invalid(let why): "the access token is not valid: \(why)"
        case .expired: "the access token has expired"
        }
    }
}
