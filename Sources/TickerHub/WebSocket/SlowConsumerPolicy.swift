import NIOCore
import NIOWebSocket

/// When a subscriber connection is too slow to keep: the eviction rules of docs/PROTOCOL.md,
/// "Slow clients", kept apart from the session so they can be read (and tested) in one place.
///
/// A connection's backlog is *full* from the moment its outbound buffer passes `--max-backlog-bytes`
/// (NIO marks it unwritable) until it drains below a quarter of that. While full, updates for it are
/// conflated, never queued. A client that reads at all, however slowly, keeps draining and is kept:
/// it ends up with the latest values. It is evicted when
/// 1. its backlog has stayed full for `--slow-client-timeout` seconds: it has stopped reading; or
/// 2. its backlog passes the hard limit (4 × `--max-backlog-bytes`). Only request answers can do
///    that, since updates are never queued past the limit: the client keeps sending requests while
///    not reading their answers.
struct SlowConsumerPolicy {
    static let closeCode = WebSocketErrorCode(codeNumber: 4008)
    static let closeReason = "slow consumer"
    /// How long an evicted connection may take to read what is queued and the close frame behind it.
    static let closeGrace = TimeAmount.seconds(5)

    enum Rule: Equatable, CustomStringConvertible {
        case backlogFullTooLong(seconds: Double)
        case backlogOverHardLimit(bytes: Int)

        var description: String {
            switch self {
            case .backlogFullTooLong(let seconds): "backlog full for \(seconds)s"
            case .backlogOverHardLimit(let bytes): "backlog over the hard limit of \(bytes) bytes"
            }
        }
    }

    let timeout: TimeAmount
    let timeoutSeconds: Double
    let hardLimitBytes: Int
    /// When the backlog last became full; nil while it is not.
    private(set) var fullSince: NIODeadline?

    init(configuration: HubConfiguration) {
        timeoutSeconds = configuration.slowClientTimeoutSeconds
        timeout = .nanoseconds(Int64(configuration.slowClientTimeoutSeconds * 1e9))
        hardLimitBytes = configuration.backlogHardLimitBytes
    }

    var isFull: Bool { fullSince != nil }

    mutating func filled(at now: NIODeadline) {
        if fullSince == nil { fullSince = now }
    }

    mutating func drained() {
        fullSince = nil
    }

    /// The rule this connection breaks now, if any.
    func evictionRule(now: NIODeadline, backlogBytes: Int) -> Rule? {
        guard let fullSince else { return nil }
        if backlogBytes > hardLimitBytes { return .backlogOverHardLimit(bytes: hardLimitBytes) }
        if now - fullSince >= timeout { return .backlogFullTooLong(seconds: timeoutSeconds) }
        return nil
    }
}
