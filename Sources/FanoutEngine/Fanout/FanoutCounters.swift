import Atomics

/// Hub-wide counters, shown by `/stats`. Hot-path code accumulates locally and adds here once per
/// batch, so the atomics cost a few operations per batch, not per delivery.
public final class FanoutCounters: Sendable {
    /// Ticks accepted from the feed and sequenced.
    public let ticksIn = ManagedAtomic<UInt64>(0)
    /// WebSocket frames built for the ring: one per message (a tick, a channel tick, a book update, a
    /// bar), whatever the number of subscribers.
    public let framesEncoded = ManagedAtomic<UInt64>(0)
    /// Shared permessage-deflate frames built by the publisher: at most one per message, and only while
    /// some subscriber takes them.
    public let framesDeflated = ManagedAtomic<UInt64>(0)
    /// Shared zstd frames built by the publisher, likewise.
    public let framesZstd = ManagedAtomic<UInt64>(0)
    /// Bytes of those compressed frames (headers included), by mode.
    public let deflatedBytes = ManagedAtomic<UInt64>(0)
    public let zstdBytes = ManagedAtomic<UInt64>(0)
    /// When the publisher last accepted a batch (ns since the epoch); 0 before the first. `/readyz`.
    public let lastBatchAtNanos = ManagedAtomic<UInt64>(0)
    /// Frames written to a subscriber's channel.
    public let deliveries = ManagedAtomic<UInt64>(0)
    /// Channel flushes (each is at most one socket write).
    public let flushes = ManagedAtomic<UInt64>(0)
    /// Updates subscribers will never get (their socket could not take them, or their loop was
    /// lapped), counted as the seq gaps the clients are shown. Equals the sum of those gaps.
    public let drops = ManagedAtomic<UInt64>(0)
    /// Latest-value (`conflated`) messages sent in place of updates a socket could not take.
    public let conflated = ManagedAtomic<UInt64>(0)
    /// Updates skipped because subscriptions asked for at most one per interval (`maxFrequency`),
    /// shown to the clients as seq gaps like `drops` (but asked for, not a sign of trouble).
    public let throttled = ManagedAtomic<UInt64>(0)
    /// Times a loop's consumer was lapped by the ring's writer.
    public let ringLaps = ManagedAtomic<UInt64>(0)
    /// Ring records a loop reached later than `DrainLimits.maxLag` after they were published, and
    /// conflated to their symbols' latest values instead of sending (overload shedding; what
    /// clients miss by it is in `drops`).
    public let lateRecords = ManagedAtomic<UInt64>(0)
    /// Catch-ups started by a loop's owed check (`DrainLimits.owedCheckInterval`) for a subscriber
    /// whose connection took more without a writability event having caught it up first.
    public let owedCheckCatchUps = ManagedAtomic<UInt64>(0)
    /// Updates a numbering source skipped (its seq jumped): forwarded to clients as the same gap.
    public let upstreamGaps = ManagedAtomic<UInt64>(0)
    /// Updates from a numbering source at or below the symbol's seq (repeated, or out of order):
    /// dropped, since clients already have that seq.
    public let upstreamStale = ManagedAtomic<UInt64>(0)
    /// Updates from a numbering source whose seq is above `Tick.maxSeq`: refused, never numbered.
    public let upstreamRefused = ManagedAtomic<UInt64>(0)
    /// Order book changes accepted from the feed (each gives a record per depth whose levels changed).
    public let bookUpdatesIn = ManagedAtomic<UInt64>(0)
    /// Order book changes refused: a negative size, a price on another scale than the book's, or a
    /// symbol that cannot have a book.
    public let bookUpdatesRefused = ManagedAtomic<UInt64>(0)
    /// Numbered order book changes dropped because the book does not follow on from a whole one
    /// (its publisher skipped a seq, or the hub joined mid-stream), until a whole book comes.
    public let bookUpdatesAwaitingBook = ManagedAtomic<UInt64>(0)
    /// Messages too big for one ring record (a whole deep book, with a small ring): each loop sent
    /// the stream's latest value from the cache in their place.
    public let oversizeRecords = ManagedAtomic<UInt64>(0)
    /// Consumer wake-ups (one per loop per published batch at most).
    public let drains = ManagedAtomic<UInt64>(0)
    /// Current subscriptions (subscriber × symbol), across loops.
    public let subscriptions = ManagedAtomic<Int>(0)

    public init() {}

    public struct Snapshot: Sendable, Equatable {
        public var ticksIn, framesEncoded, framesDeflated, framesZstd, deflatedBytes, zstdBytes, deliveries, flushes,
            drops, conflated, throttled, ringLaps, lateRecords, drains: UInt64
        public var upstreamGaps: UInt64 = 0, upstreamStale: UInt64 = 0, upstreamRefused: UInt64 = 0,
            owedCheckCatchUps: UInt64 = 0
        public var bookUpdatesIn: UInt64 = 0, bookUpdatesRefused: UInt64 = 0, oversizeRecords: UInt64 = 0
        public var bookUpdatesAwaitingBook: UInt64 = 0
        public var subscriptions: Int
    }

    public func snapshot() -> Snapshot {
        Snapshot(
            ticksIn: ticksIn.load(ordering: .relaxed), framesEncoded: framesEncoded.load(ordering: .relaxed),
            framesDeflated: framesDeflated.load(ordering: .relaxed), framesZstd: framesZstd.load(ordering: .relaxed),
            deflatedBytes: deflatedBytes.load(ordering: .relaxed), zstdBytes: zstdBytes.load(ordering: .relaxed),
            deliveries: deliveries.load(ordering: .relaxed), flushes: flushes.load(ordering: .relaxed),
            drops: drops.load(ordering: .relaxed), conflated: conflated.load(ordering: .relaxed),
            throttled: throttled.load(ordering: .relaxed), ringLaps: ringLaps.load(ordering: .relaxed),
            lateRecords: lateRecords.load(ordering: .relaxed),
            drains: drains.load(ordering: .relaxed), upstreamGaps: upstreamGaps.load(ordering: .relaxed),
            upstreamStale: upstreamStale.load(ordering: .relaxed),
            upstreamRefused: upstreamRefused.load(ordering: .relaxed),
            owedCheckCatchUps: owedCheckCatchUps.load(ordering: .relaxed),
            bookUpdatesIn: bookUpdatesIn.load(ordering: .relaxed),
            bookUpdatesRefused: bookUpdatesRefused.load(ordering: .relaxed),
            oversizeRecords: oversizeRecords.load(ordering: .relaxed),
            bookUpdatesAwaitingBook: bookUpdatesAwaitingBook.load(ordering: .relaxed),
            subscriptions: subscriptions.load(ordering: .relaxed))
    }
}
