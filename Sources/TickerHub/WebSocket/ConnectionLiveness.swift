import NIOCore

/// When a subscriber connection is sent a `heartbeat`, pinged, or given up on, decided from what it
/// did and when; the session does what this says (`SubscriberSession.checkLiveness`). A value with
/// no I/O, so the rules can be read, and tested, in one place.
///
/// - A `heartbeat` goes out after `heartbeatInterval` with nothing written (the client's choice;
///   none by default). A full backlog is not idle: the client has plenty unread.
/// - A ping goes out after `pingInterval` with nothing read, and an unanswered ping closes the
///   connection after as long again, unless the hub's backlog for it shrank meanwhile: then the
///   client is reading, only behind (the ping waits behind what it has not read yet), and it is
///   given another interval. A backlog that did not shrink is a client that reads nothing, whether
///   or not bytes are still queued for it: it is closed, so a half-full backlog cannot be held
///   forever by a client that stopped reading once nothing new was queued. While the backlog is
///   full no ping goes at all: it would sit behind the backlog, and the slow-consumer rule judges
///   the client.
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
    /// The backlog when the ping went (or when the client last showed progress since).
    private var backlogAtPing = 0

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

    /// Whether to ping now, or give up. `backlogBytes` is asked only when a ping goes or is overdue.
    mutating func pingAction(now: NIODeadline, backlogFull: Bool, backlogBytes: () -> Int) -> PingAction {
        guard !backlogFull else { return .none }
        if let pingSentAt {
            guard now - pingSentAt > pingInterval else { return .none }
            let bytes = backlogBytes()
            guard bytes > 0, bytes < backlogAtPing else { return .timedOut }
            // It read some of what it owed: behind, not gone. Judge its progress again from here.
            self.pingSentAt = now
            backlogAtPing = bytes
            return .none
        }
        guard now - lastInbound > pingInterval else { return .none }
        pingSentAt = now
        backlogAtPing = backlogBytes()
        return .ping
    }
}
