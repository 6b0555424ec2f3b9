/// Whether a subscriber session lets its connection read now, and the one read it holds back.
///
/// Two things hold reads, and both for the same reason, that a client must not be able to queue
/// work the hub cannot drop: while the backlog is full (`SlowConsumerPolicy`: answers to requests
/// could not be conflated away) and while requests wait their turn (`RequestPacing`). A connection
/// that is closing reads on regardless, and ignores what it reads: closing a socket with unread
/// input makes the kernel send a reset, and the client would lose our Close frame.
///
/// One gate, so that whichever condition clears last issues the held read, and neither issues it
/// while the other still holds.
struct ReadGate {
    private(set) var holding = false

    /// Whether a read may go ahead now; if not, it is held until `takeHeld`.
    mutating func mayRead(backlogFull: Bool, requestsWaiting: Bool, closing: Bool) -> Bool {
        guard !closing, backlogFull || requestsWaiting else { return true }
        holding = true
        return false
    }

    /// Whether a read is held; it no longer is. Ask `mayRead` again before issuing it.
    mutating func takeHeld() -> Bool {
        defer { holding = false }
        return holding
    }
}
