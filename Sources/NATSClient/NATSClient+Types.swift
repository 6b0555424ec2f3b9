import NIOCore

extension NATSClient {
    /// Runs on the loop for every message of a subscription; `@Sendable`, as it is handed to the
    /// loop from whichever thread subscribes.
    public typealias Handler = @Sendable (NATSMessage) -> Void

    /// Whether `text` names a server this client can connect to: `nats://host:port`, `host:port` or `host`.
    public static func isValidServerURL(_ text: String) -> Bool { ServerPool.isValid(text) }

    public struct Configuration: Sendable {
        /// `nats://host:port` (or `host:port`); at least one.
        public var servers: [String]
        /// The connection's name in the server's monitoring.
        public var name = "tickerhub"
        /// How often an idle connection is pinged; after `maxPingsOutstanding` unanswered, it is
        /// taken for dead and replaced.
        public var pingInterval = TimeAmount.seconds(2)
        public var maxPingsOutstanding = 2
        /// The first reconnect delay, doubled each failed attempt up to `maxReconnectWait`; each
        /// wait is drawn at random from its upper half.
        public var reconnectWait = TimeAmount.milliseconds(50)
        public var maxReconnectWait = TimeAmount.seconds(2)
        public var connectTimeout = TimeAmount.seconds(2)
        /// Most bytes of publishes held while disconnected (or while the socket is full).
        public var maxPendingBytes = 8 << 20
        public var token: String?

        public init(servers: [String], name: String = "tickerhub", token: String? = nil) {
            self.servers = servers
            self.name = name
            self.token = token
        }
    }

    public enum Event: Sendable, Equatable {
        case connected(server: String)
        case disconnected(server: String, reason: String)
        case reconnecting(server: String, after: TimeAmount)
        /// An `-ERR` from the server (a slow-consumer warning among them), or our own protocol trouble.
        case error(String)
        case closed
    }

    public struct Statistics: Sendable, Equatable {
        public var messagesIn: UInt64 = 0
        public var bytesIn: UInt64 = 0
        public var messagesOut: UInt64 = 0
        public var bytesOut: UInt64 = 0
        public var reconnects: UInt64 = 0
        /// Publishes dropped because `maxPendingBytes` were already waiting.
        public var droppedPublishes: UInt64 = 0
    }

    /// Runs on the loop for every message of a subscription. `@Sendable`, as it is handed to the
    /// loop from whichever thread subscribes.
}

public enum NATSClientError: Error, Equatable {
    case closed
    case disconnected
    case timedOut
    case noResponders
    case invalidSubject(String)
}
