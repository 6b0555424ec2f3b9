import NIOCore

/// How many requests a subscriber connection may send: a token bucket, so a burst (a dashboard
/// subscribing to its watchlist, a reconnect) is fine, and sustained abuse is not. Each request
/// can cost the hub far more than it costs the client (a subscribe to 1,000 symbols is 1,000
/// snapshots), so a client looping requests must not be able to keep a loop busy for everyone.
/// The session closes a connection that runs dry with 1008 (policy violation).
struct RequestRateLimit {
    /// Requests per second allowed over time.
    let perSecond: Double
    /// Requests allowed at once after a quiet spell.
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

    /// Takes one request's token; false when there is none left (the client is over the limit).
    mutating func take(now: NIODeadline) -> Bool {
        let elapsed = Double(max(0, (now - lastRefill).nanoseconds)) / 1e9
        tokens = min(burst, tokens + elapsed * perSecond)
        lastRefill = now
        guard tokens >= 1 else { return false }
        tokens -= 1
        return true
    }
}
