import NIOCore

/// When a subscriber connection is sent a `heartbeat`, pinged, or given up on, decided from what it
/// did and when; the session does what this says (`SubscriberSession.checkLiveness`). A value with
/// no I/O, so the rules can be read, and tested, in one place.
///
/// - A `heartbeat` goes out after `heartbeatInterval` with nothing written (the client's choice;
///   none by default). A full backlog is not idle: the client has plenty unread.
/// - A ping goes out after `pingInterval` with nothing read, and an unanswered ping closes the
///   connection after as long again, unless the hub still holds bytes for it: then the client is
///   behind, not gone, and the slow-consumer rule judges it. While the backlog is full no ping goes
///   at all: it would sit behind the backlog, and a client that drains it has shown it is alive.
struct ConnectionLiveness {
    enum PingAction: Equatable {
        case none
        case ping
        case timedOut
    }

    /// Silence after which a `heartbeat` goes out; nil for none.
    let heartbeatInterval: TimeAmount?
    let pingInterval: TimeAmount
    /// When a check last saw something written (or asked for a heartbeat).
    private var lastOutbound: NIODeadline
    private var lastInbound: NIODeadline
    private var pingSentAt: NIODeadline?

    init(heartbeatInterval: TimeAmount?, pingInterval: TimeAmount, now: NIODeadline) {
        self.heartbeatInterval = heartbeatInterval
        self.pingInterval = pingInterval
        lastOutbound = now
        lastInbound = now
    }

    /// The client sent something, or read what was queued for it: a sign of life, as good as a pong.
    mutating func heardFrom(at now: NIODeadline) {
        lastInbound = now
        pingSentAt = nil
    }

    /// Whether a `heartbeat` is due now. `wroteSinceLastCheck`: something went out since the last check.
    mutating func heartbeatDue(now: NIODeadline, wroteSinceLastCheck: Bool, backlogFull: Bool) -> Bool {
        if wroteSinceLastCheck || backlogFull {
            lastOutbound = now
            return false
        }
        guard let heartbeatInterval, now - lastOutbound >= heartbeatInterval else { return false }
        lastOutbound = now
        return true
    }

    /// Whether to ping now, or give up. `backlogBytes` is asked only when a ping is overdue.
    mutating func pingAction(now: NIODeadline, backlogFull: Bool, backlogBytes: () -> Int) -> PingAction {
        guard !backlogFull else { return .none }
        if let pingSentAt {
            return now - pingSentAt > pingInterval && backlogBytes() == 0 ? .timedOut : .none
        }
        guard now - lastInbound > pingInterval else { return .none }
        pingSentAt = now
        return .ping
    }
}
