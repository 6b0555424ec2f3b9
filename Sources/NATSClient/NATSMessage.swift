import NIOCore

/// A message delivered by a subscription (`MSG`, or `HMSG` when it carries headers).
public struct NATSMessage: Sendable {
    public var subject: String
    /// The subscription it was delivered for.
    public var sid: UInt64
    /// Where an answer goes, for a request.
    public var replyTo: String?
    /// The NATS/1.0 headers, in order (empty for a plain `MSG`).
    public var headers: [(name: String, value: String)]
    /// The status of a header-only message: 503 when a request found no responder.
    public var status: Int?
    public var payload: ByteBuffer

    public init(
        subject: String, sid: UInt64, replyTo: String? = nil, headers: [(name: String, value: String)] = [],
        status: Int? = nil, payload: ByteBuffer
    ) {
        self.subject = subject
        self.sid = sid
        self.replyTo = replyTo
        self.headers = headers
        self.status = status
        self.payload = payload
    }

    /// The first header named `name` (case-insensitive, as NATS headers are MIME-style).
    public func header(_ name: String) -> String? {
        headers.first { Self.sameName($0.name, name) }?.value
    }

    /// ASCII case-insensitive equality, without allocating (header names are ASCII tokens).
    private static func sameName(_ a: String, _ b: String) -> Bool {
        a.utf8.count == b.utf8.count
            && zip(a.utf8, b.utf8).allSatisfy { x, y in
                x == y
                    || ((x | 0x20) == (y | 0x20) && (x | 0x20) >= UInt8(ascii: "a") && (x | 0x20) <= UInt8(ascii: "z"))
            }
    }
}

/// What the server told us in `INFO`: what we need of it.
public struct NATSServerInfo: Sendable, Equatable {
    public var serverID: String
    public var version: String
    public var maxPayload: Int
    public var headers: Bool
    /// Other members of the cluster, as `host:port`, for reconnecting when this one goes.
    public var connectURLs: [String]

    public init(
        serverID: String = "", version: String = "", maxPayload: Int = 1 << 20, headers: Bool = false,
        connectURLs: [String] = []
    ) {
        self.serverID = serverID
        self.version = version
        self.maxPayload = maxPayload
        self.headers = headers
        self.connectURLs = connectURLs
    }
}

/// A message to publish (`NATSClient.publish(_:)` sends a batch of them in one write).
public struct NATSOutgoingMessage: Sendable {
    public var subject: String
    public var payload: ByteBuffer
    public var headers: [(name: String, value: String)]
    public var replyTo: String?

    public init(
        subject: String, payload: ByteBuffer, headers: [(name: String, value: String)] = [], replyTo: String? = nil
    ) {
        self.subject = subject
        self.payload = payload
        self.headers = headers
        self.replyTo = replyTo
    }
}
