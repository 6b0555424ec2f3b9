import NIOCore

/// Everything one loop's fan-out sends goes out through here, in the form each subscriber takes
/// (`LoopCodecs`), corked into its one write per turn (`WriteQueue`), and counted. There are two
/// kinds of message, and one way to send each:
/// - a live update (`sendUpdate`);
/// - a symbol's latest value in place of updates the subscription skipped (`sendLatest`), which
///   counts the skipped updates by their cause. Catch-up after backpressure, a lap's resync, the
///   overdue symbols of an overloaded loop and the release of held (throttled) subscriptions all
///   send it this one way, so the counts and the client's seq gaps always agree.
///
/// Confined to the loop; counts are added to the shared atomics once per drain (`publishCounts`).
/// It never writes to a socket itself: frames that spill out of a cork are returned, for the caller
/// to hand to the sink once this value is no longer being mutated (a write can re-enter the
/// fan-out synchronously, through a writability event).
struct LoopOutput {
    /// Why a latest value is sent in place of updates: it decides what the skipped ones count as.
    enum SkipCause {
        /// The socket could not take them, or the loop was lapped or late: `dropped`, and a `conflated` message.
        case backpressure
        /// The subscription's maximum frequency: `throttled`.
        case throttled
    }

    var codecs: LoopCodecs
    var writeQueue: WriteQueue
    /// Counts gathered since the last `publishCounts`.
    var counts = DrainCounts()

    init(compression: SharedCompression, allocator: ByteBufferAllocator) {
        codecs = LoopCodecs(compression: compression, allocator: allocator)
        writeQueue = WriteQueue(allocator: allocator)
    }

    /// Sends the update with `seq` (newer than what `subscription` was sent) as itself. Returns
    /// spilled frames to write now (see the type's comment).
    mutating func sendUpdate(_ message: OutgoingMessage, seq: UInt64, to subscription: Subscription) -> ByteBuffer? {
        let subscriber = subscription.subscriber
        let spilled = writeQueue.add(codecs.frame(message, for: subscriber), for: subscriber)
        subscription.lastSentSeq = seq
        subscriber.delivered &+= 1
        counts.deliveries &+= 1
        return spilled
    }

    /// Sends `latest` (newer than what `subscription` was sent) and counts the updates it jumps
    /// over by `cause`. Returns spilled frames to write now (see the type's comment).
    mutating func sendLatest(_ latest: (seq: UInt64, message: OutgoingMessage), to subscription: Subscription,
                             because cause: SkipCause) -> ByteBuffer? {
        let subscriber = subscription.subscriber
        let spilled = writeQueue.add(codecs.frame(latest.message, for: subscriber), for: subscriber)
        let skipped = latest.seq - subscription.lastSentSeq - 1
        subscription.lastSentSeq = latest.seq
        subscriber.delivered &+= 1
        counts.deliveries &+= 1
        switch cause {
        case .backpressure:
            subscriber.conflated &+= 1
            subscriber.dropped &+= skipped
            counts.conflated &+= 1
            counts.drops &+= skipped
        case .throttled:
            subscriber.throttled &+= skipped
            counts.throttled &+= skipped
        }
        return spilled
    }

    mutating func publishCounts(to counters: FanoutCounters) {
        counts.publish(to: counters)
        counts = DrainCounts()
    }
}

/// Counts gathered on the hot path and added to the shared atomics once per drain.
struct DrainCounts {
    var deliveries: UInt64 = 0
    var flushes: UInt64 = 0
    var drops: UInt64 = 0
    var conflated: UInt64 = 0
    var throttled: UInt64 = 0
    var laps: UInt64 = 0
    var lateRecords: UInt64 = 0

    func publish(to counters: FanoutCounters) {
        if deliveries > 0 { counters.deliveries.wrappingIncrement(by: deliveries, ordering: .relaxed) }
        if flushes > 0 { counters.flushes.wrappingIncrement(by: flushes, ordering: .relaxed) }
        if drops > 0 { counters.drops.wrappingIncrement(by: drops, ordering: .relaxed) }
        if conflated > 0 { counters.conflated.wrappingIncrement(by: conflated, ordering: .relaxed) }
        if throttled > 0 { counters.throttled.wrappingIncrement(by: throttled, ordering: .relaxed) }
        if laps > 0 { counters.ringLaps.wrappingIncrement(by: laps, ordering: .relaxed) }
        if lateRecords > 0 { counters.lateRecords.wrappingIncrement(by: lateRecords, ordering: .relaxed) }
    }
}
