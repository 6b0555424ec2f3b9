import NIOCore

/// Everything one loop's fan-out sends goes out through here, in the form each subscriber takes
/// (`LoopCodecs`), corked into its one write per turn (`WriteQueue`), and counted. There are two
/// kinds of message, and one way to send each:
/// - a live update (`sendUpdate`);
/// - a symbol's latest value in place of updates the subscription skipped (`sendLatest`), which
///   counts the skipped updates by their cause. Catch-up after backpressure, a lap's resync, the
///   overdue symbols of an overloaded loop and the release of held (throttled) subscriptions all
///   send it this one way (through `Conflator`), so the counts and the client's seq gaps always agree.
///
/// Confined to the loop; counts are added to the shared atomics once per drain (`publishCounts`).
/// A class, shared by the drain and the conflator, so that its writes follow the re-entrancy rule
/// (`LoopFanout`): none happens while a stored value is being mutated, which a struct's mutating
/// method could not promise.
final class LoopOutput {
    /// Why a latest value is sent in place of updates: it decides what the skipped ones count as.
    enum SkipCause {
        /// The socket could not take them, or the loop was lapped or late: `dropped`, and a `conflated` message.
        case backpressure
        /// The subscription's maximum frequency: `throttled`.
        case throttled
    }

    private var codecs: LoopCodecs
    private var writeQueue: WriteQueue
    /// Counts gathered since the last `publishCounts`.
    private(set) var counts = DrainCounts()
    private let counters: FanoutCounters
    private let eventLoop: any EventLoop

    init(
        eventLoop: any EventLoop, compression: SharedCompression, counters: FanoutCounters,
        allocator: ByteBufferAllocator
    ) {
        self.eventLoop = eventLoop
        self.counters = counters
        codecs = LoopCodecs(compression: compression, allocator: allocator)
        writeQueue = WriteQueue(allocator: allocator)
    }

    /// Sends the update with `seq` (newer than what `subscription` was sent) as itself.
    func sendUpdate(_ message: OutgoingMessage, seq: UInt64, to subscription: Subscription) {
        let subscriber = subscription.subscriber
        let spilled = writeQueue.add(codecs.frame(message, for: subscriber), for: subscriber)
        // A live update that jumps is the feed's gap (every skip the hub makes goes through
        // `sendLatest`); from a start without a value (seq 0) there is nothing to jump from.
        if subscription.lastSentSeq > 0, seq > subscription.lastSentSeq + 1 {
            subscriber.upstream &+= seq - subscription.lastSentSeq - 1
        }
        subscription.lastSentSeq = seq
        subscriber.delivered &+= 1
        counts.deliveries &+= 1
        if let spilled { subscriber.sink.write(spilled) }
    }

    /// Sends `latest` (newer than what `subscription` was sent) and counts the updates it jumps
    /// over by `cause`.
    func sendLatest(
        _ latest: (seq: UInt64, message: OutgoingMessage), to subscription: Subscription, because cause: SkipCause
    ) {
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
        if let spilled { subscriber.sink.write(spilled) }
    }

    /// A per-connection message (an answer, a snapshot) in the form `subscriber` negotiated.
    func frame(_ message: OutgoingMessage, for subscriber: Subscriber) -> ByteBuffer {
        codecs.frame(message, for: subscriber)
    }

    /// Writes queued subscribers, oldest first, until the queue is empty (true) or `deadline` (false).
    func writeQueued(until deadline: NIODeadline) -> Bool {
        var written: UInt64 = 0
        defer { counts.flushes &+= written }
        while let subscriber = writeQueue.next() {
            WriteQueue.write(subscriber)
            written &+= 1
            if written & 7 == 0, eventLoop.now >= deadline { return writeQueue.isEmpty }
        }
        return true
    }

    /// Writes `subscriber` now, out of its turn (its socket just said it takes more).
    func writeNow(_ subscriber: Subscriber) {
        guard subscriber.awaitingWrite else { return }
        WriteQueue.write(subscriber)
        counts.flushes &+= 1
    }

    func countLap() { counts.laps &+= 1 }
    func countLateRecord() { counts.lateRecords &+= 1 }
    func countOwedCheckCatchUp() { counts.owedCheckCatchUps &+= 1 }

    /// Subscribers waiting for their write.
    var queuedWrites: Int { writeQueue.count }

    /// Adds the counts gathered so far to the shared atomics.
    func publishCounts() {
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
    var owedCheckCatchUps: UInt64 = 0

    func publish(to counters: FanoutCounters) {
        if deliveries > 0 { counters.deliveries.wrappingIncrement(by: deliveries, ordering: .relaxed) }
        if flushes > 0 { counters.flushes.wrappingIncrement(by: flushes, ordering: .relaxed) }
        if drops > 0 { counters.drops.wrappingIncrement(by: drops, ordering: .relaxed) }
        if conflated > 0 { counters.conflated.wrappingIncrement(by: conflated, ordering: .relaxed) }
        if throttled > 0 { counters.throttled.wrappingIncrement(by: throttled, ordering: .relaxed) }
        if laps > 0 { counters.ringLaps.wrappingIncrement(by: laps, ordering: .relaxed) }
        if lateRecords > 0 { counters.lateRecords.wrappingIncrement(by: lateRecords, ordering: .relaxed) }
        if owedCheckCatchUps > 0 {
            counters.owedCheckCatchUps.wrappingIncrement(by: owedCheckCatchUps, ordering: .relaxed)
        }
    }
}
