import Atomics

/// Connection-level counters for `/stats` (the fan-out's own counters live in `FanoutCounters`).
final class HubMetrics: Sendable {
    let subscribersConnected = ManagedAtomic<Int>(0)
    let subscribersAccepted = ManagedAtomic<UInt64>(0)
    let publishersConnected = ManagedAtomic<Int>(0)
    let httpRequests = ManagedAtomic<UInt64>(0)
    /// Requests answered with an `error` message (bad JSON, unknown op, unknown symbol, ...).
    let requestErrors = ManagedAtomic<UInt64>(0)
    /// Connections closed for a protocol violation (RFC 6455 close codes 1002/1003/1007/1009).
    let protocolViolations = ManagedAtomic<UInt64>(0)
    /// Connections closed for sending requests faster than their `TokenBucket` allows.
    let rateLimited = ManagedAtomic<UInt64>(0)
    /// Requests refused by `AdmissionGate` for room (503 or 429) or an oversized head (431).
    let handshakesRefused = ManagedAtomic<UInt64>(0)
    /// WebSocket handshakes refused for their token (401) or a publisher without the right (403).
    let authRefusals = ManagedAtomic<UInt64>(0)
    /// Connections closed because their token lapsed without a refresh (4001).
    let tokenExpiries = ManagedAtomic<UInt64>(0)
    /// Subscribes refused, in part or whole, for symbols outside the token's entitlement.
    let entitlementRefusals = ManagedAtomic<UInt64>(0)
    /// Symbols a reconnecting client resumed (`since`) and got every missed update for, replayed.
    let recoveredSymbols = ManagedAtomic<UInt64>(0)
    /// Symbols a client resumed that got a snapshot instead: the history no longer held what they
    /// missed, or the hub's epoch changed. The client sees the gap in the snapshot's seq.
    let unrecoveredSymbols = ManagedAtomic<UInt64>(0)
    /// Updates replayed to recovering clients.
    let replayedUpdates = ManagedAtomic<UInt64>(0)
    /// Times `accept` failed (out of file descriptors, mostly) and the listener paused (`AcceptBackoff`).
    let acceptFailures = ManagedAtomic<UInt64>(0)
    /// Connections closed for not finishing an HTTP request within `--request-timeout`.
    let requestTimeouts = ManagedAtomic<UInt64>(0)
    /// Connections waiting for their first byte now: a storm's sign, for the request deadline.
    let firstByteWaits = FirstByteWaits()
    /// Connections closed because they stopped answering pings.
    let pingTimeouts = ManagedAtomic<UInt64>(0)
    /// Connections closed with 4008 "slow consumer".
    let slowConsumerEvictions = ManagedAtomic<UInt64>(0)
    /// Plain HTTP connections closed because their answers went unread (`HTTPRouter`).
    let httpUnreadCloses = ManagedAtomic<UInt64>(0)
    /// Connections whose backlog is full right now (not writable).
    let backloggedConnections = ManagedAtomic<Int>(0)
    let ingestBatches = ManagedAtomic<UInt64>(0)
    let ingestRejected = ManagedAtomic<UInt64>(0)
    /// How long each fan-out batch took, for the `/ops` page's latency chart.
    let fanoutBatches = BatchLatencyBuckets()
    let startedAt = ContinuousClock.now
}
