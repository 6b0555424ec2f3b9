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
public final class LoopFanout: @unchecked Sendable {
    // @unchecked: confined to `eventLoop` except the atomic `wakePending`.

    public let eventLoop: any EventLoop
    private var receiver: BroadcastReceiver
    private var index = SubscriptionIndex()
    private var awaitingFlush: [Subscriber] = []
    private let wakePending = ManagedAtomic(false)
    private let counters: FanoutCounters
    private let lastValues: LastValueCache
    private let allocator = ByteBufferAllocator()
    /// Upper bound on records handled per drain, so a loop interleaves fan-out with socket I/O.
    private let maxRecordsPerDrain: Int
    /// Called on the loop after a lap was counted; the seam for resynchronising subscribers.
    public var onLapped: (() -> Void)?

    public init(eventLoop: any EventLoop, buffer: BroadcastBuffer, lastValues: LastValueCache,
                counters: FanoutCounters, maxRecordsPerDrain: Int = 4096) {
        self.eventLoop = eventLoop
        self.receiver = BroadcastReceiver(buffer: buffer)
        self.lastValues = lastValues
        self.counters = counters
        self.maxRecordsPerDrain = maxRecordsPerDrain
    }

    // MARK: Subscriptions (on the loop)

    /// Subscribes to `ids` and returns, for each *new* subscription, the snapshot to send first.
    /// Symbols with no value yet come back with a `seq` of 0 and no fields.
    public func subscribe(_ subscriber: Subscriber, to ids: [SymbolID], symbols: [Symbol]) -> [SymbolSnapshot] {
        eventLoop.assertInEventLoop()
        precondition(ids.count == symbols.count)
        let current = lastValues.snapshots(of: ids)
        var snapshots: [SymbolSnapshot] = []
        for (offset, id) in ids.enumerated() {
            let snapshot = current[offset] ?? SymbolSnapshot(symbol: symbols[offset])
            if index.add(subscriber, to: id, floor: snapshot.seq) {
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
        for id in ids where index.remove(subscriber, from: id) {
            subscriber.staleSymbols.remove(id)
            removed += 1
        }
        counters.subscriptions.wrappingDecrement(by: removed, ordering: .relaxed)
        return removed
    }

    /// Drops every subscription of a closing connection.
    public func remove(_ subscriber: Subscriber) {
        eventLoop.assertInEventLoop()
        let removed = index.removeAll(subscriber)
        counters.subscriptions.wrappingDecrement(by: removed, ordering: .relaxed)
    }

    // MARK: Fan-out

    /// Asks the loop to drain the ring. Called by the publisher after each batch; schedules at most
    /// one drain however many batches arrive before it runs.
    public func wake() {
        if !wakePending.exchange(true, ordering: .acquiringAndReleasing) {
            eventLoop.execute { self.drain() }
        }
    }

    /// Reads everything available (up to `maxRecordsPerDrain`) and fans it out.
    func drain() {
        eventLoop.assertInEventLoop()
        // Clear before reading: a batch published from here on schedules another drain. The RMW
        // synchronises with the publisher's exchange, so we see every record it published before it.
        _ = wakePending.exchange(false, ordering: .acquiringAndReleasing)

        var deliveries: UInt64 = 0
        var drops: UInt64 = 0
        var laps: UInt64 = 0
        var records = 0
        // Iterate a copy (it shares storage, so this costs nothing): a write can close a channel
        // synchronously, and its handler then removes the subscriber from `self.index` mid-drain.
        let index = self.index
        reading: while records < maxRecordsPerDrain {
            switch receiver.receiveNext(allocator: allocator, wantsPayload: { index.hasSubscribers(SymbolID($0.symbolID)) }) {
            case .empty:
                break reading
            case .lapped:
                laps += 1
                onLapped?()
            case .record(let header, let payload):
                records += 1
                guard let frame = payload else { continue }
                for entry in index.entries(of: SymbolID(header.symbolID)) where header.seq > entry.floor {
                    let subscriber = entry.subscriber
                    if subscriber.sink.isWritable {
                        subscriber.sink.write(frame)
                        subscriber.delivered &+= 1
                        deliveries &+= 1
                        if !subscriber.awaitingFlush {
                            subscriber.awaitingFlush = true
                            awaitingFlush.append(subscriber)
                        }
                    } else {
                        subscriber.dropped &+= 1
                        subscriber.staleSymbols.insert(SymbolID(header.symbolID))
                        drops &+= 1
                    }
                }
            }
        }
        let flushes = awaitingFlush.count
        for subscriber in awaitingFlush {
            subscriber.awaitingFlush = false
            subscriber.wroteSinceLastCheck = true
            subscriber.sink.flush()
        }
        awaitingFlush.removeAll(keepingCapacity: true)

        counters.drains.wrappingIncrement(ordering: .relaxed)
        if deliveries > 0 { counters.deliveries.wrappingIncrement(by: deliveries, ordering: .relaxed) }
        if flushes > 0 { counters.flushes.wrappingIncrement(by: UInt64(flushes), ordering: .relaxed) }
        if drops > 0 { counters.drops.wrappingIncrement(by: drops, ordering: .relaxed) }
        if laps > 0 { counters.ringLaps.wrappingIncrement(by: laps, ordering: .relaxed) }
        if records == maxRecordsPerDrain { wake() }  // more may be waiting: continue after pending I/O
    }

    public var lappedCount: UInt64 { receiver.lappedCount }
    /// Subscriptions on this loop (subscriber × symbol).
    public var subscriptionCount: Int { index.subscriptionCount }
}
