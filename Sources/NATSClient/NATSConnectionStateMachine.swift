import NIOCore

/// Where the client's one connection stands, and what to do at each event: a value that does no
/// I/O, in the way of NIO's upgrader state machines. `NATSClient` feeds it what happened (a socket
/// connected or closed, an `INFO`, a `PONG`, a timer) and carries out the action it returns; so every
/// rule about connecting, the handshake, keep-alive and backing off is here, and is tested without
/// a server (`NATSConnectionStateMachineTests`).
///
/// ```
/// idle ─start─▶ connecting ─socket up─▶ awaitingInfo ─INFO─▶ handshaking ─PONG─▶ ready
///                   ▲                                                              │
///                   └──timer── backingOff ◀──── failed / closed / pings unanswered ┘
/// any ─close─▶ closed
/// ```
struct NATSConnectionStateMachine {
    enum State: Equatable {
        /// `connect()` not called yet.
        case idle
        /// A TCP connection to `server` is being made.
        case connecting(server: String)
        /// Connected; the server's `INFO` comes first.
        case awaitingInfo(server: String)
        /// `CONNECT`, the subscriptions and a `PING` sent: its `PONG` says they were all taken.
        case handshaking(server: String)
        /// In service; `pingsOutstanding` pings (keep-alive and `flush`) await their `PONG`.
        case ready(server: String, pingsOutstanding: Int)
        /// Waiting to try the next server, after `failedAttempts` attempts in a row came to nothing.
        case backingOff(failedAttempts: Int)
        /// `close()`: for good.
        case closed
    }

    /// What the client does next.
    enum Action: Equatable {
        case none
        /// Open a TCP connection to `address`.
        case connect(to: ServerPool.Address)
        /// Write `CONNECT`, every subscription, and a `PING`.
        case sendHandshake
        /// The handshake's `PONG` came: write what waited, tell the waiters, start the ping timer.
        case becomeReady(server: String)
        /// Write a `PING` (keep-alive or `flush`).
        case sendPing
        /// A `PONG` answered a `flush`'s or a keep-alive's `PING`.
        case pongArrived
        /// The server stopped answering: close the socket (its close then comes back as `connectionClosed`).
        case closeConnection(reason: String)
        /// The connection is gone: stop the ping timer, fail what awaited a `PONG`, tell of the
        /// loss if it had been ready, and try `next` after a wait drawn from `delay`.
        case reconnect(lost: String?, wasReady: Bool, next: ServerPool.Address, delay: ClosedRange<Int64>)
        /// `close()`: stop everything and close the socket, if any.
        case shutdown
    }

    private(set) var state = State.idle
    private var pool: ServerPool
    private let pingLimit: Int
    private let reconnectWait: TimeAmount
    private let maxReconnectWait: TimeAmount
    /// Connections lost or never made since the last one that became ready.
    private var failuresInARow = 0

    init(configuration: NATSClient.Configuration) {
        pool = ServerPool(configured: configuration.servers)
        pingLimit = configuration.maxPingsOutstanding
        reconnectWait = configuration.reconnectWait
        maxReconnectWait = configuration.maxReconnectWait
    }

    var isReady: Bool {
        if case .ready = state { return true }
        return false
    }

    var isClosed: Bool { state == .closed }

    /// The server of the current connection, if one is open.
    var server: String? {
        switch state {
        case .connecting(let server), .awaitingInfo(let server), .handshaking(let server), .ready(let server, _): server
        case .idle, .backingOff, .closed: nil
        }
    }

    // MARK: Events

    /// `connect()`: start trying, once.
    mutating func start() -> Action {
        guard case .idle = state else { return .none }
        return connectToNext()
    }

    /// The reconnect timer fired.
    mutating func reconnectTimerFired() -> Action {
        guard case .backingOff = state else { return .none }
        return connectToNext()
    }

    /// The TCP connection was made.
    mutating func socketConnected() -> Action {
        guard case .connecting(let server) = state else { return .none }
        state = .awaitingInfo(server: server)
        return .none
    }

    /// An `INFO`: the servers it announces join the pool; the first one starts the handshake.
    mutating func infoReceived(connectURLs: [String]) -> Action {
        pool.learn(connectURLs)
        // Also while connecting: the socket's first read may come before its connect completes.
        guard case .awaitingInfo(let server) = state else {
            guard case .connecting(let server) = state else { return .none }
            state = .handshaking(server: server)
            return .sendHandshake
        }
        state = .handshaking(server: server)
        return .sendHandshake
    }

    mutating func pongReceived() -> Action {
        switch state {
        case .handshaking(let server):
            state = .ready(server: server, pingsOutstanding: 0)
            return .becomeReady(server: server)
        case .ready(let server, let outstanding):
            state = .ready(server: server, pingsOutstanding: max(0, outstanding - 1))
            return .pongArrived
        default:
            return .none
        }
    }

    /// The ping timer fired: ping, unless too many pings went unanswered already.
    mutating func pingTimerFired() -> Action {
        guard case .ready(let server, let outstanding) = state else { return .none }
        guard outstanding < pingLimit else {
            return .closeConnection(reason: "no PONG to \(outstanding) pings: replacing the connection")
        }
        state = .ready(server: server, pingsOutstanding: outstanding + 1)
        return .sendPing
    }

    /// `flush()`: a `PING` whose `PONG` says the server has everything before it; `.none` when
    /// not ready (the flush fails).
    mutating func flushRequested() -> Action {
        guard case .ready(let server, let outstanding) = state else { return .none }
        state = .ready(server: server, pingsOutstanding: outstanding + 1)
        return .sendPing
    }

    /// The attempt failed, or the connection closed (whatever its stage).
    mutating func connectionClosed() -> Action {
        switch state {
        case .connecting, .awaitingInfo, .handshaking, .ready:
            let (lost, wasReady) = (server, isReady)
            // A connection that was ready ends a run of failures: the next attempt is quick.
            failuresInARow = wasReady ? 1 : failuresInARow + 1
            state = .backingOff(failedAttempts: failuresInARow)
            let delay = Self.delay(afterFailures: failuresInARow, first: reconnectWait, cap: maxReconnectWait)
            return .reconnect(lost: lost, wasReady: wasReady, next: pool.peek(), delay: delay)
        case .idle, .backingOff, .closed:
            return .none
        }
    }

    /// `close()`.
    mutating func close() -> Action {
        guard state != .closed else { return .none }
        state = .closed
        return .shutdown
    }

    // MARK: Helpers

    private mutating func connectToNext() -> Action {
        let address = pool.next()
        state = .connecting(server: address.description)
        return .connect(to: address)
    }

    /// Exponential (from `first`, doubling per failure in a row, capped), from its upper half: after
    /// a server dies, its clients do not all come back at once. The first retry after a working
    /// connection is quick, since another member is likely up.
    static func delay(afterFailures failures: Int, first: TimeAmount, cap: TimeAmount) -> ClosedRange<Int64> {
        let exponent = min(max(failures - 1, 0), 16)
        let ceiling = min(cap.nanoseconds, first.nanoseconds << exponent)
        return (ceiling / 2)...max(ceiling / 2 + 1, ceiling)
    }
}
