import NIOCore

/// What a connection may do, as its verified token says (`TokenVerifier`); with auth off, everything.
/// Held by the connection's session and replaced when the client refreshes its token.
public struct AccessGrant: Sendable, Equatable {
    /// The token's `sub`: who the connection belongs to, for logs. A refreshed token must carry the same.
    public var subject: String?
    /// When the token lapses (its `exp`, on the hub's monotonic clock); nil: never (auth off).
    public var expiresAt: NIODeadline?
    /// The token's wall-clock `exp`, as a client is told it (`welcome`, the `auth` ack).
    public var expiresAtMilliseconds: Int64?
    /// The symbols the connection may subscribe to (`symbols` claim).
    public var symbols: SymbolEntitlement
    /// The symbols it may publish on `/ingest` (`publish` claim); nil: not a publisher.
    public var publish: SymbolEntitlement?

    /// The grant of a hub without auth: every symbol, no expiry. Publishing is guarded by the
    /// ingest credential instead.
    public static let open = AccessGrant(
        subject: nil, expiresAt: nil, expiresAtMilliseconds: nil, symbols: .everything, publish: .everything)

    public init(
        subject: String?, expiresAt: NIODeadline?, expiresAtMilliseconds: Int64?, symbols: SymbolEntitlement,
        publish: SymbolEntitlement?
    ) {
        self.subject = subject
        self.expiresAt = expiresAt
        self.expiresAtMilliseconds = expiresAtMilliseconds
        self.symbols = symbols
        self.publish = publish
    }

    public func hasExpired(at now: NIODeadline) -> Bool {
        expiresAt.map { now >= $0 } ?? false
    }
}
