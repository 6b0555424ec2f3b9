import DequeModule
import NIOCore

/// Answers one connection's requests a few at a time, so that a client cannot hold its loop: every
/// request is answered on the loop that reads it, and one read can carry hundreds of them (each
/// subscribe answered with up to 1,000 snapshots), while the loop's other connections wait for
/// their updates behind them.
///
/// At most `perPass` requests of a connection are answered per pass of its loop (one read burst,
/// ended by `channelReadComplete`); the rest wait here, in order, and the session answers them a
/// batch at a time from a task scheduled a moment later, so the loop polls its sockets and drains
/// its fan-out in between. While requests wait, the session reads no more (`hasWaiting`), so what
/// waits is bounded by one read burst, and by the request rate limit, which every request passes
/// on arrival. A plain value: the session owns the timing and the I/O.
struct RequestPacing {
    /// Requests answered per pass: a dashboard's few requests go at once; a flood of subscribes
    /// (a few hundred microseconds each, with their snapshots) costs the loop a millisecond or two
    /// per pass at most.
    static let perPass = 8
    /// How long after a pass the next batch is answered: long enough that the loop polls its
    /// sockets first (NIO runs tasks due now before it polls again).
    static let resumeDelay = TimeAmount.microseconds(500)

    private var waiting: Deque<ByteBuffer> = []
    private var answeredThisPass = 0
    private var resumeScheduled = false

    var hasWaiting: Bool { !waiting.isEmpty }

    /// A request arrived: returns it if it is to be answered now, or keeps it for later (nil).
    mutating func arrived(_ request: ByteBuffer) -> ByteBuffer? {
        guard waiting.isEmpty, answeredThisPass < Self.perPass else {
            waiting.append(request)
            return nil
        }
        answeredThisPass += 1
        return request
    }

    /// The read burst ended: the next one may answer `perPass` again.
    mutating func passEnded() {
        answeredThisPass = 0
    }

    /// Whether the caller must schedule a resume (requests wait and none is scheduled yet).
    mutating func needsResume() -> Bool {
        guard hasWaiting, !resumeScheduled else { return false }
        resumeScheduled = true
        return true
    }

    /// The next batch to answer, from the scheduled resume.
    mutating func resume() -> [ByteBuffer] {
        resumeScheduled = false
        answeredThisPass = 0
        var batch: [ByteBuffer] = []
        while batch.count < Self.perPass, let request = waiting.popFirst() { batch.append(request) }
        answeredThisPass = batch.count
        return batch
    }

    /// The connection is closing: nothing more is answered.
    mutating func drop() {
        waiting.removeAll()
    }
}
