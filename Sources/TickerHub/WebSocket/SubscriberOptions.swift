/// What a subscriber chooses for its connection in the upgrade URL, `/ws?heartbeat=5000`: options a
/// browser can set too (it cannot send headers with a WebSocket).
///
/// - `heartbeat`: milliseconds of silence after which the hub sends a `heartbeat` message; `0` for
///   none. Between `minimumHeartbeatMilliseconds` and an hour. Without it, the hub's default
///   (`--heartbeat-ms`, itself off by default) applies. Dead links are found either way by the
///   hub's WebSocket pings; heartbeats are for clients that cannot see pings (browsers) and want to
///   tell a quiet market from a dead link quickly.
struct SubscriberOptions: Sendable, Equatable {
    /// Milliseconds of silence before a heartbeat; nil for none.
    var heartbeatMilliseconds: Int?

    /// The keep-alive sweep checks each connection every 500 ms, so shorter heartbeats could not be
    /// kept to.
    static let minimumHeartbeatMilliseconds = 1_000
    static let maximumHeartbeatMilliseconds = 3_600_000

    static func isValidHeartbeat(_ milliseconds: Int) -> Bool {
        milliseconds == 0 || (minimumHeartbeatMilliseconds...maximumHeartbeatMilliseconds).contains(milliseconds)
    }

    /// The options in `uri`'s query, over `defaultHeartbeatMilliseconds` (0: none); the reason when
    /// a value is not acceptable.
    static func parse(uri: String, defaultHeartbeatMilliseconds: Int) -> Result<SubscriberOptions, OptionError> {
        var options = SubscriberOptions(
            heartbeatMilliseconds: defaultHeartbeatMilliseconds > 0 ? defaultHeartbeatMilliseconds : nil)
        if let text = HTTPRoutes.query(of: uri, "heartbeat") {
            guard let milliseconds = Int(text), isValidHeartbeat(milliseconds) else {
                return .failure(
                    OptionError(
                        message:
                            """
                            heartbeat must be 0 (none) or\
                             \(minimumHeartbeatMilliseconds)...\(maximumHeartbeatMilliseconds) milliseconds
                            """
                    ))
            }
            options.heartbeatMilliseconds = milliseconds > 0 ? milliseconds : nil
        }
        return .success(options)
    }

    struct OptionError: Error, Equatable {
        let message: String
    }
}
