import Atomics
import FeedModel
import NIOCore

/// The fan-out consumer of one event loop: it reads batches from the broadcast ring and writes each
/// record's pre-built frame to that loop's subscribers of the record's symbol.
///
/// Threading: all state except `wakePending` is confined to `eventLoop`; every public method must be
/// called on it (asserted in debug builds). The publisher thread only calls `wake()`.
///
/// Per drain, for each record with at least one subscriber on this loop, the payload is copied out of
/// the ring once into a loop-local buffer, and that *same* buffer goes to every subscriber (NIO
/// reference-counts it; nothing is re-encoded per subscriber). A subscriber's frames are corked
/// (`CorkedFrames`) and it is queued (`WriteQueue`) for one write and one flush however many it got.
///
/// A drain never holds its loop for long, so accepting, upgrading and reading requests on the loop
/// are never starved by fan-out (`DrainLimits`): it first writes the subscribers still queued from
/// the last drain, then reads new records, then writes, all within its time budget; whatever is
/// left waits for the next drain, which it signals to run *after* the socket events already waiting
/// (`DrainSignal`). Records the loop reaches
/// later than `DrainLimits.maxLag` after they were published are not sent as themselves: their
/// symbols are marked overdue (`OverdueSymbols`), and each subscription of an overdue symbol gets
/// the symbol's latest value once, as one `conflated` message. That is how an overloaded loop sheds
/// load: its work per drain is bounded by its subscriptions, not by the backlog, and so is latency.
///
/// Whatever skips updates (a full socket, a lap, a late record, a maximum frequency) is settled by
/// the loop's `Conflator`, with the symbol's latest value; everything leaves through `LoopOutput`.
///
/// ## The re-entrancy rule
/// Handing frames to a sink can call back into the fan-out before it returns: a socket that
/// becomes writable again is caught up (`catchUp`), and a write that fails closes
/// its channel, whose handlers remove the subscriber (`remove`). So, for every type of the fan-out
/// (this one, `Conflator`, `LoopOutput`, `WriteQueue`, and the session's `WebSocketControl`):
/// 1. No frame is handed to a sink while a stored value is being mutated: a mutating method
///    returns what to write and its caller writes it (`WriteQueue.add` returns what spilled). A
///    struct that wrote from a mutating method would be an exclusivity violation, which traps.
/// 2. A collection that a write's callback may change is not iterated in place: the loop takes it
///    (`Conflator.checkOwed`) or iterates a copy (`readRecords`).
/// 3. A callback may subscribe, remove, mark and queue; it never drains. `drain()` checks that it
///    was not entered from inside itself (an assertion in debug builds).
public final class LoopFanout: @unchecked Sendable {
    // @unchecked: confined to `eventLoop` except the atomic `wakePending`.

    public let eventLoop: any EventLoop
    private var receiver: BroadcastReceiver
    private let ring: BroadcastBuffer
    /// Where `receiver` stood after the last drain: read by `lagBytes` on any thread.
    private let readPosition: ManagedAtomic<RingPosition>
    // Not private: `LoopFanout+Subscriptions` keeps the index, and counts and reads through these.
    var index = SubscriptionIndex()
    private let wakePending = ManagedAtomic(false)
    let counters: FanoutCounters
    let lastValues: LastValueCache
    /// Latest values in place of skipped updates: catch-up, resync, overdue symbols, held releases.
    let conflator: Conflator
    /// Symbols owed their latest value because the loop reached their records too late.
    private var overdue = OverdueSymbols()
    private let allocator = ByteBufferAllocator()
    /// Frame choice, the write queue and the counts: how everything leaves this loop.
    private let output: LoopOutput
    /// How long a drain may run, and how late a record may be before the loop conflates.
    private let limits: DrainLimits
    /// Asks this loop to drain, from the publisher's thread or from the loop itself (to continue a
    /// drain that used up its budget once the loop has served its sockets). Nil: a task on the loop.
    private let drainSignal: (any DrainSignal)?
    /// Told how long each drain took (reading, writing, flushing), for the operator's latency
    /// histogram. Set before the first publish; called on the loop.
    public var drainObserver: (@Sendable (Duration) -> Void)?
    /// Whether a wake drains at once or a little later (see `DrainPacing`).
    private let pacing: DrainPacing
    /// Counts the subscriptions of `quotes` and `trades` streams, so the publisher builds them only
    /// while someone takes them. Nil: nobody counts (tests that follow no such stream).
    let demand: ChannelDemand?
    /// How long the last drain took, which sets the next deferral under `pacing`. (Internal so
    /// tests can pose as a busy loop.)
    var lastDrainDuration = Duration.zero
    /// Whether `drain()` is running: checked by the re-entrancy rule.
    private var draining = false

    /// `drainSignal` makes the loop call `drainSignalled()`; nil uses a task on the loop, which is
    /// what tests on an `EmbeddedEventLoop` want. The hub uses a pipe that the loop polls with its
    /// sockets (`LoopDoorbell`), so that a drain is one I/O event among the others: NIO runs every
    /// task queued during its tasks before it polls again, so drains signalled by tasks could
    /// follow each other without a poll for as long as the publisher outpaces them.
    public init(
        eventLoop: any EventLoop, buffer: BroadcastBuffer, lastValues: LastValueCache,
        counters: FanoutCounters, compression: SharedCompression = SharedCompression(),
        limits: DrainLimits = DrainLimits(), pacing: DrainPacing = .immediate,
        drainSignal: (any DrainSignal)? = nil, demand: ChannelDemand? = nil
    ) {
        self.pacing = pacing
        self.demand = demand
        self.eventLoop = eventLoop
        self.receiver = BroadcastReceiver(buffer: buffer)
        self.ring = buffer
        self.readPosition = ManagedAtomic(receiver.position)
        self.counters = counters
        self.limits = limits
        self.drainSignal = drainSignal
        let output = LoopOutput(
            eventLoop: eventLoop, compression: compression, counters: counters, allocator: allocator)
        self.output = output
        self.conflator = Conflator(
            eventLoop: eventLoop, lastValues: lastValues, output: output, allocator: allocator, budget: limits.budget,
            owedCheckInterval: limits.owedCheckInterval)
        self.lastValues = lastValues
        conflator.requestDrain = { [unowned self] in self.wake() }
    }

    // MARK: Fan-out

    /// Asks the loop to drain the ring. Called by the publisher after each batch; signals at most
    /// one drain however many batches arrive before it runs (`wakePending` stays set until the drain
    /// starts, so batches published while a drain is pending or deferred join it).
    public func wake() {
        guard !wakePending.exchange(true, ordering: .acquiringAndReleasing) else { return }
        if let drainSignal {
            drainSignal.signal()
        } else {
            eventLoop.execute { self.drainSignalled() }
        }
    }

    /// The drain signal arrived: drain now, or a little later under `pacing`.
    public func drainSignalled() {
        eventLoop.assertInEventLoop()
        if let delay = pacing.delay(afterDrainTaking: lastDrainDuration) {
            eventLoop.scheduleTask(in: .nanoseconds(Int64(delay / .nanoseconds(1)))) { self.drain() }
        } else {
            drain()
        }
    }

    /// Writes the subscribers still queued, reads what is available and fans it out, then writes,
    /// all within `limits`; signals itself to go on later if anything is left.
    func drain() {
        eventLoop.assertInEventLoop()
        assert(!draining, "a write re-entered the drain: see the re-entrancy rule on LoopFanout")
        draining = true
        defer { draining = false }
        // Clear before reading: a batch published from here on schedules another drain. The RMW
        // synchronises with the publisher's exchange, so we see every record it published before it.
        _ = wakePending.exchange(false, ordering: .acquiringAndReleasing)
        let started = ContinuousClock.now
        let now = eventLoop.now  // the loop's clock: held updates' boundaries, records' age, the budget
        let deadline = now + limits.budget

        // Those queued first have waited longest; new records wait until they are written.
        var unfinished = !output.writeQueued(until: deadline)
        var records = 0
        if !unfinished {
            (records, unfinished) = readRecords(now: now, until: deadline)
            if !output.writeQueued(until: deadline) { unfinished = true }
        }
        counters.drains.wrappingIncrement(ordering: .relaxed)
        readPosition.store(receiver.position, ordering: .relaxed)
        output.publishCounts()
        conflator.catchUpThoseWritableAgain()
        lastDrainDuration = ContinuousClock.now - started
        if records > 0 { drainObserver?(lastDrainDuration) }
        // More is waiting: go on once the loop has served the socket events queued meanwhile.
        if unfinished { wake() }
    }

    /// Reads records until the ring is empty, `limits.maxRecords`, or `deadline`; returns how many,
    /// and whether some may be left.
    private func readRecords(now: NIODeadline, until deadline: NIODeadline) -> (records: Int, unfinished: Bool) {
        let lateCutoff =
            now.uptimeNanoseconds > limits.maxLagNanoseconds ? now.uptimeNanoseconds - limits.maxLagNanoseconds : 0
        var records = 0
        // Iterate a copy (it shares storage, so this costs nothing): the re-entrancy rule.
        let index = self.index
        defer { if !overdue.isEmpty { sendOverdue(now: now) } }
        while true {
            let outcome = receiver.receiveNext(allocator: allocator) { header in
                header.publishedAt >= lateCutoff && index.hasSubscribers(SymbolID(header.symbolID))
            }
            switch outcome {
            case .empty:
                return (records, false)
            case .lapped:
                output.countLap()
                _ = overdue.removeAll()  // covered by the resync
                resynchronise(now: now)
            case .record(let header, let payload):
                records += 1
                let id = SymbolID(header.symbolID)
                if header.publishedAt < lateCutoff {
                    // Too late to send as itself: the symbol's latest value goes out instead, once
                    // the late run is read. Only the header was read, so this costs next to nothing.
                    output.countLateRecord()
                    if index.hasSubscribers(id) { overdue.insert(id) }
                } else {
                    // Latest values first: a record sent after them would hide their gaps.
                    if !overdue.isEmpty { sendOverdue(now: now) }
                    if let payload, let variants = FrameVariants(payload: payload) {
                        deliver(OutgoingMessage(variants), seq: header.seq, to: index.subscriptions(of: id), now: now)
                    } else if payload?.readableBytes == 0 {
                        // A message too big for a record (`TickPublisher`): its latest value instead.
                        overdue.insert(id)
                    }
                }
                if records >= limits.maxRecords || (records & 31 == 0 && eventLoop.now >= deadline) {
                    return (records, true)
                }
            }
        }
    }

    private func deliver(
        _ message: OutgoingMessage, seq: UInt64, to subscriptions: ContiguousArray<Subscription>, now: NIODeadline
    ) {
        for subscription in subscriptions where seq > subscription.lastSentSeq {
            if let interval = subscription.updateInterval, !subscription.isStale {
                // Throttled: only hold it. The release at the boundary sends the latest value
                // (which covers this record) and asks the socket then, so this path touches
                // neither the subscriber nor its channel (cold memory for thousands of them).
                conflator.hold(subscription, every: interval, now: now)
                continue
            }
            guard subscription.subscriber.isWritable else {
                conflator.markStale(subscription)
                continue
            }
            if subscription.isStale {
                // The latest value covers this record too (the cache is updated first).
                conflator.sendLatest(subscription)
            } else if subscription.isHeld {
                // Held under a frequency limit that a new request has since lifted: what it held
                // back goes out now, as the latest value (which covers this record), counted as
                // throttled. Sent as itself, this record would be a gap with no conflated value.
                conflator.sendLatest(subscription, skippedBecause: .throttled)
            } else {
                output.sendUpdate(message, seq: seq, to: subscription)
            }
        }
    }

    /// Every subscription of the overdue symbols gets its symbol's latest value.
    private func sendOverdue(now: NIODeadline) {
        for id in overdue.removeAll() {
            conflator.bringToLatest(index.subscriptions(of: id), of: id, now: now)
        }
    }

    /// After a lap the consumer does not know which updates it missed, so every subscription on the
    /// loop is brought to its symbol's latest value.
    private func resynchronise(now: NIODeadline) {
        for id in index.subscribedSymbols {
            conflator.bringToLatest(index.subscriptions(of: id), of: id, now: now)
        }
    }

    /// Sends `subscriber` the latest value of each symbol it is owed, for as long as its socket takes
    /// them (see `Conflator.catchUp`). Call it when the connection becomes writable again. Returns
    /// how many stale symbols remain (non-zero only if the socket filled up again).
    @discardableResult
    public func catchUp(_ subscriber: Subscriber) -> Int {
        eventLoop.assertInEventLoop()
        return conflator.catchUp(subscriber)
    }

    /// A per-connection message (ack, snapshot, error, ...) built as a plain frame, in the form
    /// `subscriber` negotiated. Sessions write their own messages through this, so a dedicated
    /// compressor sees every message of its connection in order.
    public func encode(_ plainFrame: ByteBuffer, for subscriber: Subscriber) -> ByteBuffer {
        eventLoop.assertInEventLoop()
        return output.frame(OutgoingMessage(plain: plainFrame), for: subscriber)
    }

    /// A connection's own message (an answer, a snapshot) is about to be written: its corked frames
    /// go first, so the order on the wire is the order of events. The caller writes and flushes.
    public func releaseCorked(_ subscriber: Subscriber) {
        eventLoop.assertInEventLoop()
        WriteQueue.release(subscriber)
    }

    /// Subscribers waiting for their write.
    var queuedWrites: Int { output.queuedWrites }

    public var lappedCount: UInt64 { receiver.lappedCount }

    /// Bytes published to the ring that this loop has not read yet: how far behind it is, for the
    /// operator (`tickerhub_fanout_lag_bytes`). Safe on any thread; as of the loop's last drain.
    public var lagBytes: UInt64 {
        let tail = ring.acquireTail(), read = readPosition.load(ordering: .relaxed)
        return tail > read ? tail.rawValue - read.rawValue : 0
    }
    /// Subscriptions on this loop (subscriber × symbol).
    public var subscriptionCount: Int { index.subscriptionCount }

    /// Subscriptions holding back an update under their maximum frequency right now.
    var heldCount: Int { conflator.heldCount }

    func checkInvariants() {
        index.checkInvariants()
        conflator.checkInvariants()
    }
}
