import NIOCore
import NIOWebSocket

/// A subscriber connection's backlog and what follows from it, the rules of docs/PROTOCOL.md,
/// "Slow clients", kept apart from the session so they can be read (and tested) in one place:
/// when the backlog counts as full (requests are then not read: `ReadGate`), and when the
/// connection is too slow to keep.
///
/// A connection's backlog is *full* from the moment its outbound buffer passes `--max-backlog-bytes`
/// (NIO marks it unwritable) until it drains below a quarter of that. While full, updates for it are
/// conflated, never queued. A client that reads at all, however slowly, keeps draining and is kept:
/// it ends up with the latest values. It is evicted when
/// 1. its backlog has stayed full for `--slow-client-timeout` seconds: it has stopped reading; or
/// 2. its backlog passes the hard limit (`backlogHardLimitFactor` × `--max-backlog-bytes`, 4 by default). Only request
///    answers can do that, since updates are never queued past the limit: the client keeps sending requests while not
///    reading their answers.
/// Eviction closes with `CloseCode.slowConsumer` (4008 `slow consumer`).
struct SlowConsumerPolicy {
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
    /// How long an evicted connection may take to read what is queued and the close frame behind it.
    let closeGrace: TimeAmount
    /// When the backlog last became full; nil while it is not.
    private(set) var fullSince: NIODeadline?

    /// What a writability event meant for the backlog.
    enum Change: Equatable {
        /// It filled: updates are conflated from now on, and requests wait.
        case filled
        /// It drained below the resume mark: catch up, and read again if a read waits.
        case drained
        /// No change of state (NIO may coalesce full-then-drained into one event, or none).
        case none
    }

    init(configuration: HubConfiguration) {
        timeoutSeconds = configuration.slowClientTimeoutSeconds
        timeout = .nanoseconds(Int64(configuration.slowClientTimeoutSeconds * 1e9))
        hardLimitBytes = configuration.backlogHardLimitBytes
        closeGrace = configuration.slowConsumerCloseGrace
    }

    var isFull: Bool { fullSince != nil }

    /// The connection's writability now (judge by the state, not by which way an event says it went).
    mutating func writability(_ isWritable: Bool, now: NIODeadline) -> Change {
        if isWritable {
            guard isFull else { return .none }
            drained()
            return .drained
        }
        guard !isFull else { return .none }
        filled(at: now)
        return .filled
    }

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
