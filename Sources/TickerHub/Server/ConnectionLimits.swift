import NIOCore
import NIOHTTP1
import Synchronization

/// How many connections the hub holds (WebSocket and plain HTTP alike), in total and per client,
/// and how fast one client may open them: a flood from one address must not use up the
/// descriptors, the memory or the accepting loop that every other client shares. A client is an
/// IPv4 address or an IPv6 /64 (`ClientAddress`). Checked when a connection is accepted
/// (`AdmissionGate`), and a refused client gets an HTTP answer it can act on:
/// - 503 `server_full` past `maxConnections`;
/// - 429 `too_many_connections` past `maxConnectionsPerIP`;
/// - 429 `too_many_handshakes` past `handshakesPerSecondPerIP` (a token bucket with `handshakeBurst`).
///
/// An admitted connection holds its place until it closes (`release`). Thread-safe: every event
/// loop's connections share one instance. An IP's entry goes once it has no connection and a full
/// bucket, so the table is bounded by the addresses currently connected or recently refused.
final class ConnectionLimits: Sendable {
    struct Configuration: Sendable, Equatable {
        /// Connections (subscribers, publishers and plain HTTP) in total.
        var maxConnections = 200_000
        /// Connections from one client (an IPv4 address, an IPv6 /64). A desk behind one NAT is one address, so
        /// this is generous by default; load tests from one machine spread over loopback addresses.
        var maxConnectionsPerIP = 20_000
        /// Connections one client may open per second, sustained...
        var handshakesPerSecondPerIP = 5_000.0
        /// ...and at once (a reconnect storm of a whole trading floor).
        var handshakeBurst = 20_000
    }

    enum Refusal: Equatable, Error {
        case serverFull
        case tooManyConnections
        case tooManyHandshakes

        var status: HTTPResponseStatus {
            self == .serverFull ? .serviceUnavailable : .tooManyRequests
        }
        var code: String {
            switch self {
            case .serverFull: "server_full"
            case .tooManyConnections: "too_many_connections"
            case .tooManyHandshakes: "too_many_handshakes"
            }
        }
        var message: String {
            switch self {
            case .serverFull: "the hub holds as many connections as it is configured for; try again later"
            case .tooManyConnections: "too many connections from this address"
            case .tooManyHandshakes: "too many new connections from this address; slow down"
            }
        }
    }

    private struct PerIP {
        var connections = 0
        var handshakes: TokenBucket

        /// Nothing held and nothing taken recently: the entry can go.
        func isIdle(now: NIODeadline) -> Bool { connections == 0 && handshakes.isFull(now: now) }
    }

    private struct State {
        var total = 0
        var byIP: [String: PerIP] = [:]
    }

    let configuration: Configuration
    private let state = Mutex(State())

    init(configuration: Configuration) {
        self.configuration = configuration
    }

    /// Takes a place for a new connection from `ip`, or says why not.
    func admit(_ ip: String, now: NIODeadline = .now()) -> Refusal? {
        let configuration = self.configuration
        return state.withLock { state in
            var entry =
                state.byIP[ip]
                ?? PerIP(
                    handshakes: TokenBucket(
                        perSecond: configuration.handshakesPerSecondPerIP,
                        burst: configuration.handshakeBurst, now: now))
            defer { state.byIP[ip] = entry.isIdle(now: now) ? nil : entry }
            guard entry.handshakes.take(now: now) else { return .tooManyHandshakes }
            guard entry.connections < configuration.maxConnectionsPerIP else { return .tooManyConnections }
            guard state.total < configuration.maxConnections else { return .serverFull }
            entry.connections += 1
            state.total += 1
            return nil
        }
    }

    /// A connection admitted from `ip` closed.
    func release(_ ip: String, now: NIODeadline = .now()) {
        state.withLock { state in
            guard var entry = state.byIP[ip], entry.connections > 0 else { return }
            entry.connections -= 1
            state.total -= 1
            state.byIP[ip] = entry.isIdle(now: now) ? nil : entry
        }
    }

    /// Connections held now, and addresses tracked (for tests and `/stats`).
    var counts: (total: Int, addresses: Int) {
        state.withLock { ($0.total, $0.byIP.count) }
    }
}
