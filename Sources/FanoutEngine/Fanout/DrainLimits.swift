import NIOCore

/// How much fan-out one drain may do before its loop serves its sockets again, and how late a record
/// may be delivered before the loop sheds load by conflation.
///
/// Why both: a drain that wrote everything available would, under overload, hold its loop for as
/// long as the backlog takes to write, and accepting, upgrading and reading requests would wait
/// behind it (a dashboard that cannot connect during the busiest minute is the worst failure a hub
/// can have). Yielding after `budget` bounds that wait. But yielding alone only moves the backlog
/// to the next drain, and latency grows without bound until the ring laps. `maxLag` bounds the
/// latency instead: a record the loop reaches later than that after it was published is not sent
/// as itself; the loop skips to the newest record and sends every subscription its symbol's latest
/// value, one `conflated` message each, counting what it jumped over as dropped.
public struct DrainLimits: Sendable, Equatable {
    /// The longest one drain runs before it yields to socket I/O (checked every 32 records).
    public var budget: TimeAmount
    /// How late a record may be, after it was published, and still be delivered as itself.
    public var maxLag: TimeAmount
    /// Records one drain handles at most.
    public var maxRecords: Int
    /// How often a loop looks again at subscribers that owe latest values, asking each connection
    /// itself whether it takes more (`Conflator`'s owed check). Catch-up normally follows the
    /// connection's writability event; this is what still brings a slow client to the latest value
    /// of every symbol when no event comes and no further tick does either (the feed went quiet).
    public var owedCheckInterval: TimeAmount

    public init(
        budget: TimeAmount = .milliseconds(5), maxLag: TimeAmount = .milliseconds(50), maxRecords: Int = 4096,
        owedCheckInterval: TimeAmount = .milliseconds(50)
    ) {
        precondition(maxRecords > 0 && budget > .zero && maxLag > .zero && owedCheckInterval > .zero)
        self.budget = budget
        self.maxLag = maxLag
        self.maxRecords = maxRecords
        self.owedCheckInterval = owedCheckInterval
    }

    var maxLagNanoseconds: UInt64 { UInt64(maxLag.nanoseconds) }
}

/// Makes a loop's consumer drain. `signal()` may be called from any thread (the publisher's, or the
/// loop's own to continue a drain) and must lead to one `LoopFanout.drainSignalled()` on the
/// consumer's loop, after the socket events already waiting there. `LoopFanout` calls it at most
/// once per drain.
public protocol DrainSignal: Sendable {
    func signal()
}
