/// A WebSocket close code, as the hub and its tools use it (docs/PROTOCOL.md, "Close codes"): the
/// one list of numbers, with the reason the hub always sends with a code that means one thing. The
/// hub closes with these, feedsim reads them, and a test checks PROTOCOL.md's table and both
/// clients' lists against `sentByTheHub`.
public struct CloseCode: Sendable, Hashable, CustomStringConvertible {
    public let rawValue: UInt16
    /// What the hub says with it, for a code that means one thing; nil where the reason varies
    /// (1008 is too many requests, or a publisher's symbol it may not publish, ...).
    public let reason: String?

    public init(_ rawValue: UInt16, reason: String? = nil) {
        self.rawValue = rawValue
        self.reason = reason
    }

    public var description: String { reason.map { "\(rawValue) \($0)" } ?? "\(rawValue)" }

    // RFC 6455, 7.4.1.
    public static let normal = CloseCode(1000)
    /// `server shutting down`, or `ping timeout`.
    public static let goingAway = CloseCode(1001)
    public static let protocolError = CloseCode(1002)
    /// A frame of a type the endpoint does not take (binary on `/ingest`'s text side, ...).
    public static let unsupportedData = CloseCode(1003)
    /// Never sent: what a close frame without a code reports.
    public static let noStatusReceived = CloseCode(1005)
    /// Never sent: what a client reports when the connection dropped without a close frame.
    public static let abnormal = CloseCode(1006)
    public static let invalidPayload = CloseCode(1007)
    public static let policyViolation = CloseCode(1008)
    public static let messageTooBig = CloseCode(1009)
    public static let internalError = CloseCode(1011)
    /// The feed's publisher restarted its numbering: reconnect and re-base (RFC 6455's "service restart").
    public static let serviceRestart = CloseCode(1012, reason: "feed restarted: new epoch")
    public static let tryAgainLater = CloseCode(1013)

    // The hub's own (4000–4999, private use).
    /// The connection's access token lapsed without an `auth` refresh.
    public static let tokenExpired = CloseCode(4001, reason: "token expired")
    /// Its backlog stayed full too long, or requests pushed it past its hard limit.
    public static let slowConsumer = CloseCode(4008, reason: "slow consumer")

    /// A browser's handshake the hub refused, as 4000 + the HTTP status it would have answered (a
    /// page cannot read an HTTP refusal of a WebSocket). The reason is the refusal's code.
    public static func refusedHandshake(httpStatus: Int) -> CloseCode {
        CloseCode(UInt16(clamping: 4000 + httpStatus))
    }
    /// The statuses a browser's refused handshake is closed with (4401, 4403, 4429, 4503).
    public static let refusedHandshakeStatuses = [401, 403, 429, 503]

    /// Every code the hub sends a subscriber: PROTOCOL.md's table, and what both clients know.
    public static let sentByTheHub: [CloseCode] =
        [
            goingAway, protocolError, invalidPayload, policyViolation, messageTooBig, serviceRestart, tokenExpired,
            slowConsumer,
        ]
        + refusedHandshakeStatuses.map { refusedHandshake(httpStatus: $0) }
}
