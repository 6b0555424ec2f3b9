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
/// the ring once into a loop-local buffer, and that *same* buffer is written to every subscriber
/// (NIO reference-counts it; nothing is re-encoded or copied per subscriber). Each subscriber that
/// received something is flushed once, at the end of the drain.
///
/// Backpressure (docs/PROTOCOL.md, "Slow clients"): an update for a subscriber whose socket is not
/// writable is not queued. Its subscription is marked stale instead, and when the socket drains
/// (`catchUp`) or the next update arrives while it is writable, the subscriber gets the symbol's
/// *latest* value from the last-value cache as one `conflated` message with its real seq. The seq
/// jump is the gap the client sees, and exactly that many updates are counted as dropped. A lapped
/// consumer does the same for every subscription on its loop (`resynchronise()`).
///
/// Maximum frequency (`maxFrequency`, docs/PROTOCOL.md): an update for a subscription with an
/// `UpdateInterval` is held back instead of written (`HeldUpdates`), and at the interval's next
/// boundary the subscription gets the symbol's latest value as one `conflated` message; the
/// updates it jumps over are counted as `throttled`. All of a loop's subscriptions with the same
/// interval are released together, so each connection gets one write per boundary.
public final class LoopFanout: @unchecked Sendable {
    // @unchecked: confined to `eventLoop` except the atomic `wakePending`.

    public let eventLoop: any EventLoop
    private var receiver: BroadcastReceiver
    private var index = SubscriptionIndex()
    private var awaitingFlush: [Subscriber] = []
    /// Subscribers that started owing latest values during this drain; checked once it has flushed.
    private var startedOwing: [Subscriber] = []
    private let wakePending = ManagedAtomic(false)
    private let counters: FanoutCounters
    private let lastValues: LastValueCache
    private var latestFrames: LatestValueFrames
    /// Subscriptions holding back an update under their maximum frequency.
    private var held = HeldUpdates()
    private let allocator = ByteBufferAllocator()
    private let compression: SharedCompression
    /// Compresses shared deflate frames the record did not bring, and conflated values; made on first use.
    private var deflater: MessageDeflater?
    private var zstdCompressor: ZstdMessageCompressor?
    private var inflater: MessageInflater?
    /// Upper bound on records handled per drain, so a loop interleaves fan-out with socket I/O.
    private let maxRecordsPerDrain: Int
    /// Told how long each drain took (reading, writing, flushing), for the operator's latency
    /// histogram. Set before the first publish; called on the loop.
    public var drainObserver: (@Sendable (Duration) -> Void)?
    /// Counts accumulated during one drain or catch-up, added to `counters` once at its end.
    private var pending = PendingCounts()
    /// Whether a wake drains at once or a little later (see `DrainPacing`).
    private let pacing: DrainPacing
    /// How long the last drain took, which sets the next deferral under `pacing`. (Internal so
    /// tests can pose as a busy loop.)
    var lastDrainDuration = Duration.zero

    public init(eventLoop: any EventLoop, buffer: BroadcastBuffer, lastValues: LastValueCache,
                counters: FanoutCounters, compression: SharedCompression = SharedCompression(), maxRecordsPerDrain: Int = 4096,
                pacing: DrainPacing = .immediate) {
        self.pacing = pacing
        self.compression = compression
        self.eventLoop = eventLoop
        self.receiver = BroadcastReceiver(buffer: buffer)
        self.lastValues = lastValues
        self.latestFrames = LatestValueFrames(lastValues: lastValues)
        self.counters = counters
        self.maxRecordsPerDrain = maxRecordsPerDrain
    }

    // MARK: Subscriptions (on the loop)

    /// Subscribes to `ids` and returns, for each *new* subscription, the snapshot to send first.
    /// Symbols with no value yet come back with a `seq` of 0 and no fields. `updateInterval` is the
    /// request's maximum frequency (nil: every update); it also replaces that of symbols that were
    /// already subscribed, as a new request is the subscriber's latest word on them.
    public func subscribe(_ subscriber: Subscriber, to ids: [SymbolID], symbols: [Symbol],
                          updateInterval: UpdateInterval? = nil) -> [SymbolSnapshot] {
        eventLoop.assertInEventLoop()
        precondition(ids.count == symbols.count)
        let current = lastValues.snapshots(of: ids)
        var snapshots: [SymbolSnapshot] = []
        for (offset, id) in ids.enumerated() {
            if let existing = subscriber.subscriptions[id] {
                existing.updateInterval = updateInterval
                continue
            }
            let snapshot = current[offset] ?? SymbolSnapshot(symbol: symbols[offset])
            if let added = index.add(subscriber, to: id, lastSentSeq: snapshot.seq) {
                added.updateInterval = updateInterval
                snapshots.append(snapshot)
            }
        }
        counters.subscriptions.wrappingIncrement(by: snapshots.count, ordering: .relaxed)
        return snapshots
    }

    /// Returns how many of `ids` were subscribed.
    @discardableResult
    public func unsubscribe(_ subscriber: Subscriber, from ids: [SymbolID]) -> Int {
        eventLoop.assertInEventLoop()
        var removed = 0
        for id in ids {
            if let subscription = subscriber.subscriptions[id] { held.forget(subscription) }
            if index.remove(subscriber, from: id) { removed += 1 }
        }
        counters.subscriptions.wrappingDecrement(by: removed, ordering: .relaxed)
        return removed
    }

    /// Drops every subscription of a closing connection.
    /// How many of this loop's subscribers follow `id`: the lookup every ring record starts with.
    public func subscriberCount(of id: SymbolID) -> Int {
        index.subscriptions(of: id).count
    }

    public func remove(_ subscriber: Subscriber) {
        eventLoop.assertInEventLoop()
        for subscription in subscriber.subscriptions.values { held.forget(subscription) }
        let removed = index.removeAll(subscriber)
        counters.subscriptions.wrappingDecrement(by: removed, ordering: .relaxed)
    }

    // MARK: Fan-out

    /// Asks the loop to drain the ring. Called by the publisher after each batch; schedules at most
    /// one drain however many batches arrive before it runs (`wakePending` stays set until the drain
    /// starts, so batches published while a deferred drain waits join it).
    public func wake() {
        if !wakePending.exchange(true, ordering: .acquiringAndReleasing) {
            eventLoop.execute { self.drainWhenPaced() }
        }
    }

    private func drainWhenPaced() {
        if let delay = pacing.delay(afterDrainTaking: lastDrainDuration) {
            eventLoop.scheduleTask(in: .nanoseconds(Int64(delay / .nanoseconds(1)))) { self.drain() }
        } else {
            drain()
        }
    }

    /// Reads everything available (up to `maxRecordsPerDrain`) and fans it out.
    func drain() {
        eventLoop.assertInEventLoop()
        // Clear before reading: a batch published from here on schedules another drain. The RMW
        // synchronises with the publisher's exchange, so we see every record it published before it.
        _ = wakePending.exchange(false, ordering: .acquiringAndReleasing)
        let started = ContinuousClock.now
        let now = eventLoop.now  // the loop's clock, which sets held updates' release boundaries

        var records = 0
        // Iterate a copy (it shares storage, so this costs nothing): a write can close a channel
        // synchronously, and its handler then removes the subscriber from `self.index` mid-drain.
        let index = self.index
        reading: while records < maxRecordsPerDrain {
            switch receiver.receiveNext(allocator: allocator, wantsPayload: { index.hasSubscribers(SymbolID($0.symbolID)) }) {
            case .empty:
                break reading
            case .lapped:
                pending.laps += 1
                resynchronise()
            case .record(let header, let payload):
                records += 1
                guard let payload, let variants = FrameVariants(payload: payload) else { continue }
                let message = OutgoingMessage(variants)
                for subscription in index.subscriptions(of: SymbolID(header.symbolID)) where header.seq > subscription.lastSentSeq {
                    if let interval = subscription.updateInterval, !subscription.isStale {
                        // Throttled: only hold it. The release at the boundary sends the latest value
                        // (which covers this record) and asks the socket then, so this path touches
                        // neither the subscriber nor its channel (cold memory for thousands of them).
                        if !subscription.isHeld { hold(subscription, every: interval, now: now) }
                        continue
                    }
                    let subscriber = subscription.subscriber
                    guard subscriber.sink.isWritable else {
                        if subscriber.markStale(subscription) { startedOwing.append(subscriber) }
                        continue
                    }
                    if subscription.isStale {
                        // The latest value covers this record too (the cache is updated first).
                        sendLatest(subscription)
                    } else {
                        subscriber.sink.write(frame(message, for: subscriber))
                        subscription.lastSentSeq = header.seq
                        subscriber.delivered &+= 1
                        pending.deliveries &+= 1
                        needsFlush(subscriber)
                    }
                }
            }
        }
        counters.drains.wrappingIncrement(ordering: .relaxed)
        flushAndPublishCounts()
        catchUpThoseWritableAgain()
        lastDrainDuration = ContinuousClock.now - started
        if records > 0 { drainObserver?(lastDrainDuration) }
        if records == maxRecordsPerDrain { wake() }  // more may be waiting: continue after pending I/O
    }

    /// Sends `subscriber` the latest value of each symbol it is owed, oldest-stale first, for as long
    /// as its socket takes them. Call it when the connection becomes writable again. Returns how many
    /// stale symbols remain (non-zero only if the socket filled up again).
    @discardableResult
    public func catchUp(_ subscriber: Subscriber) -> Int {
        eventLoop.assertInEventLoop()
        // Take the list: a write can close the connection and unsubscribe everything mid-loop, which
        // clears `isStale` on the subscriptions it removes.
        let owed = subscriber.staleSubscriptions
        subscriber.staleSubscriptions = []
        for (offset, subscription) in owed.enumerated() where subscription.isStale {
            guard subscriber.sink.isWritable else {
                subscriber.staleSubscriptions = owed[offset...].filter(\.isStale) + subscriber.staleSubscriptions
                break
            }
            subscription.isStale = false
            sendLatest(subscription, clearing: false)
        }
        flushAndPublishCounts()
        return subscriber.staleSubscriptions.count
    }

    /// A subscriber can turn unwritable in the middle of a drain (its own writes fill the buffer) and
    /// writable again when the drain flushes it; NIO may then report no change at all, so nobody
    /// would call `catchUp`. Settle those here, so a writable subscriber never ends a drain owing the
    /// latest value of a symbol that may not update again.
    private func catchUpThoseWritableAgain() {
        guard !startedOwing.isEmpty else { return }
        let owing = startedOwing
        startedOwing.removeAll(keepingCapacity: true)
        for subscriber in owing where subscriber.staleCount > 0 && subscriber.sink.isWritable {
            catchUp(subscriber)
        }
    }

    private func hold(_ subscription: Subscription, every interval: UpdateInterval, now: NIODeadline) {
        guard let release = held.hold(subscription, interval: interval, now: now) else { return }
        eventLoop.scheduleTask(deadline: release) { self.releaseHeld(interval) }
    }

    /// A boundary of `interval`: every subscription held under it gets its symbol's latest value,
    /// and each connection that got something is flushed once.
    private func releaseHeld(_ interval: UpdateInterval) {
        eventLoop.assertInEventLoop()
        for subscription in held.release(interval) {
            let subscriber = subscription.subscriber
            // Stale: the socket could not take an update meanwhile, and catch-up owns it now. (Removed
            // subscriptions are not here: removal lets go of the hold.)
            guard !subscription.isStale else { continue }
            if subscriber.sink.isWritable {
                sendLatest(subscription, skippedBecause: .throttled)
            } else if subscriber.markStale(subscription) {
                startedOwing.append(subscriber)
            }
        }
        flushAndPublishCounts()
        catchUpThoseWritableAgain()
    }

    /// After a lap the consumer cannot know which updates it missed, so every subscription on the loop
    /// is brought to the symbol's latest value: sent now to writable subscribers (one shared frame per
    /// symbol), marked stale for the others.
    private func resynchronise() {
        for id in index.subscribedSymbols {
            for subscription in index.subscriptions(of: id) {
                let subscriber = subscription.subscriber
                if subscriber.sink.isWritable {
                    if subscription.isStale { subscriber.forgetStale(subscription) }
                    sendLatest(subscription, clearing: false)
                } else if subscriber.markStale(subscription) {
                    startedOwing.append(subscriber)
                }
            }
        }
    }

    /// Why a latest value is sent in place of updates: it decides what the skipped ones count as.
    private enum SkipCause {
        /// The socket could not take them, or the loop was lapped: `dropped`, and a `conflated` message.
        case backpressure
        /// The subscription's maximum frequency: `throttled`.
        case throttled
    }

    /// Writes the latest value of `subscription`'s symbol if it is newer than what was sent, and counts
    /// the updates it jumps over by `cause`. With `clearing`, also takes the subscription off the
    /// subscriber's stale list (callers that walk that list clear it themselves). Either way the
    /// subscription stops being held: what it held is covered.
    private func sendLatest(_ subscription: Subscription, clearing: Bool = true, skippedBecause cause: SkipCause = .backpressure) {
        let subscriber = subscription.subscriber
        if clearing { subscriber.forgetStale(subscription) }
        held.forget(subscription)
        guard let latest = latestFrames.latest(subscription.symbolID, allocator: allocator),
              latest.seq > subscription.lastSentSeq else { return }
        subscriber.sink.write(frame(latest.message, for: subscriber))
        let skipped = latest.seq - subscription.lastSentSeq - 1
        subscription.lastSentSeq = latest.seq
        subscriber.delivered &+= 1
        pending.deliveries &+= 1
        switch cause {
        case .backpressure:
            subscriber.conflated &+= 1
            subscriber.dropped &+= skipped
            pending.conflated &+= 1
            pending.drops &+= skipped
        case .throttled:
            subscriber.throttled &+= skipped
            pending.throttled &+= skipped
        }
        needsFlush(subscriber)
    }

    /// `message` in the form `subscriber` negotiated.
    private func frame(_ message: OutgoingMessage, for subscriber: Subscriber) -> ByteBuffer {
        switch subscriber.encoding {
        case .plain:
            return message.plain
        case .sharedDeflate:
            return message.sharedDeflate(compression, deflater: sharedDeflater, allocator: allocator)
        case .zstd:
            return message.sharedZstd(compressor: loopZstdCompressor, allocator: allocator)
        case .dedicatedDeflate(let own):
            // Compressing can only fail on memory exhaustion; a message may always go uncompressed.
            return (try? own.compressedFrame(of: message.plain, allocator: allocator)) ?? message.plain
        }
    }

    /// One inflater for every connection on this loop: the hub negotiates `client_no_context_takeover`,
    /// so client messages stand alone and no connection needs its own inflate state (~7 KB each,
    /// plus a 32 KB window once used).
    public func sharedInflater() -> MessageInflater? {
        eventLoop.assertInEventLoop()
        if inflater == nil { inflater = try? MessageInflater(contextTakeover: false) }
        return inflater
    }

    private func loopZstdCompressor() -> ZstdMessageCompressor? {
        if zstdCompressor == nil, let dictionary = compression.zstdDictionary {
            zstdCompressor = ZstdMessageCompressor(dictionary: dictionary)
        }
        return zstdCompressor
    }

    private func sharedDeflater() -> MessageDeflater? {
        if deflater == nil { deflater = try? MessageDeflater(contextTakeover: false) }
        return deflater
    }

    /// A per-connection message (ack, snapshot, error, ...) built as a plain frame, in the form
    /// `subscriber` negotiated. Sessions write their own messages through this, so a dedicated
    /// compressor sees every message of its connection in order.
    public func encode(_ plainFrame: ByteBuffer, for subscriber: Subscriber) -> ByteBuffer {
        eventLoop.assertInEventLoop()
        return frame(OutgoingMessage(plain: plainFrame), for: subscriber)
    }

    private func needsFlush(_ subscriber: Subscriber) {
        if !subscriber.awaitingFlush {
            subscriber.awaitingFlush = true
            awaitingFlush.append(subscriber)
        }
    }

    private func flushAndPublishCounts() {
        pending.flushes = UInt64(awaitingFlush.count)
        for subscriber in awaitingFlush {
            subscriber.awaitingFlush = false
            subscriber.wroteSinceLastCheck = true
            subscriber.sink.flush()
        }
        awaitingFlush.removeAll(keepingCapacity: true)
        pending.publish(to: counters)
        pending = PendingCounts()
    }

    public var lappedCount: UInt64 { receiver.lappedCount }
    /// Subscriptions on this loop (subscriber × symbol).
    public var subscriptionCount: Int { index.subscriptionCount }

    /// Subscriptions holding back an update under their maximum frequency right now.
    var heldCount: Int { held.heldCount }

    func checkInvariants() {
        index.checkInvariants()
        held.checkInvariants()
    }
}

/// Counts gathered on the hot path and added to the shared atomics once per drain.
private struct PendingCounts {
    var deliveries: UInt64 = 0
    var flushes: UInt64 = 0
    var drops: UInt64 = 0
    var conflated: UInt64 = 0
    var throttled: UInt64 = 0
    var laps: UInt64 = 0

    func publish(to counters: FanoutCounters) {
        if deliveries > 0 { counters.deliveries.wrappingIncrement(by: deliveries, ordering: .relaxed) }
        if flushes > 0 { counters.flushes.wrappingIncrement(by: flushes, ordering: .relaxed) }
        if drops > 0 { counters.drops.wrappingIncrement(by: drops, ordering: .relaxed) }
        if conflated > 0 { counters.conflated.wrappingIncrement(by: conflated, ordering: .relaxed) }
        if throttled > 0 { counters.throttled.wrappingIncrement(by: throttled, ordering: .relaxed) }
        if laps > 0 { counters.ringLaps.wrappingIncrement(by: laps, ordering: .relaxed) }
    }
}
