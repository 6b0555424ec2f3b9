import NIOCore

/// A token bucket: a burst is fine, sustained excess is not. `perSecond` tokens accrue up to
/// `burst`; each thing counted takes one.
///
/// Used wherever a client's rate is limited: the requests of a subscriber connection (one of them
/// can cost the hub far more than it costs the client: a subscribe to 1,000 symbols is 1,000
/// snapshots), and the handshakes of one IP address (`ConnectionLimits`).
struct TokenBucket {
    /// Tokens accrued per second.
    let perSecond: Double
    /// The most tokens held, and what a fresh bucket starts with.
    let burst: Double
    private var tokens: Double
    private var lastRefill: NIODeadline

    init(perSecond: Double, burst: Int, now: NIODeadline) {
        precondition(perSecond > 0 && burst >= 1)
        self.perSecond = perSecond
        self.burst = Double(burst)
        tokens = Double(burst)
        lastRefill = now
    }

    /// Takes one token; false when there is none left (over the limit).
    mutating func take(now: NIODeadline) -> Bool {
        refill(now: now)
        guard tokens >= 1 else { return false }
        tokens -= 1
        return true
    }

    /// Whether the bucket would be full at `now`: nothing taken recently enough to matter, so a
    /// table of buckets may forget this one.
    func isFull(now: NIODeadline) -> Bool {
        tokens + elapsedSeconds(until: now) * perSecond >= burst
    }

    private mutating func refill(now: NIODeadline) {
        tokens = min(burst, tokens + elapsedSeconds(until: now) * perSecond)
        lastRefill = now
    }

    private func elapsedSeconds(until now: NIODeadline) -> Double {
        Double(max(0, (now - lastRefill).nanoseconds)) / 1e9
    }
}
