import FeedModel
import NIOCore

/// Sends subscriptions their symbol's *latest* value in place of updates they skipped, one
/// `conflated` message each, with the skipped updates counted by their cause (`LoopOutput.SkipCause`).
/// Every path that skips updates ends here, so the counts and the client's seq gaps always agree:
///
/// - **Backpressure** (docs/PROTOCOL.md, "Slow clients"): an update for a subscriber whose socket
///   is not writable is not queued. Its subscription is marked stale (`markStale`), and when the
///   socket drains (`catchUp`) or the next update arrives while it is writable, it gets the latest
///   value with its real seq. The seq jump is the gap the client sees, counted as dropped.
/// - **A lapped or late loop** brings every affected subscription to the latest value (`bringToLatest`).
/// - **Maximum frequency** (`maxFrequency`): an update for a subscription with an `UpdateInterval`
///   is held (`hold`, `HeldUpdates`), and at the interval's next boundary the subscription gets the
///   latest value; what it jumps over counts as throttled. All of a loop's subscriptions with the
///   same interval are released together, so each connection gets one write per boundary.
///
/// A subscriber that owes latest values is caught up when its connection reports it drained, and
/// on its next update. Neither may come: NIO can fold full-then-drained into no event, and a quiet
/// feed sends no next update. So every subscriber that owes anything is also looked at again every
/// `DrainLimits.owedCheckInterval` (`checkOwed`), asking the connection itself, until it owes
/// nothing: a slow client always ends with the latest value of every symbol it follows.
///
/// Confined to the loop. Writes go through the shared `LoopOutput`, under the re-entrancy rule
/// (`LoopFanout`).
final class Conflator {
    private let eventLoop: any EventLoop
    private let output: LoopOutput
    private let allocator: ByteBufferAllocator
    /// The shared `conflated` frame of each symbol's latest value, built once per (symbol, seq).
    private var latestFrames: LatestValueFrames
    /// Subscriptions holding back an update under their maximum frequency.
    private var held = HeldUpdates()
    /// Subscribers that started owing latest values during this drain; checked once it has flushed.
    private var startedOwing: [Subscriber] = []
    /// Subscribers that owed latest values when last looked at, each once (`awaitingOwedCheck`).
    /// Apart from `startedOwing` on purpose: that one is settled at the end of every drain and holds
    /// only this drain's newcomers; walking this whole list per drain would put every slow
    /// subscriber on the hot path, and waiting for the check would delay the within-drain case.
    private var owing: [Subscriber] = []
    /// How often `owing` is looked at, while it is not empty.
    private let owedCheckInterval: TimeAmount
    private var owedCheckScheduled = false
    /// Writes what a release queued within one drain's budget.
    private let budget: TimeAmount
    /// Asks the loop for a drain, for what a release could not write within `budget`. Set by the
    /// owning `LoopFanout` once it exists.
    var requestDrain: () -> Void = {}

    init(
        eventLoop: any EventLoop, lastValues: LastValueCache, output: LoopOutput, allocator: ByteBufferAllocator,
        budget: TimeAmount, owedCheckInterval: TimeAmount
    ) {
        self.eventLoop = eventLoop
        self.output = output
        self.allocator = allocator
        self.latestFrames = LatestValueFrames(lastValues: lastValues)
        self.budget = budget
        self.owedCheckInterval = owedCheckInterval
    }

    /// Subscriptions holding back an update under their maximum frequency right now.
    var heldCount: Int { held.heldCount }

    // MARK: Deciding

    /// Holds `subscription` until the next boundary of `interval` (unless it is held already).
    func hold(_ subscription: Subscription, every interval: UpdateInterval, now: NIODeadline) {
        guard !subscription.isHeld, let release = held.hold(subscription, interval: interval, now: now) else { return }
        eventLoop.scheduleTask(deadline: release) { self.releaseHeld(interval) }
    }

    /// `subscription`'s socket cannot take an update: it owes the latest value from now on.
    func markStale(_ subscription: Subscription) {
        let subscriber = subscription.subscriber
        guard subscriber.markStale(subscription) else { return }
        startedOwing.append(subscriber)
        if !subscriber.awaitingOwedCheck {
            subscriber.awaitingOwedCheck = true
            owing.append(subscriber)
            scheduleOwedCheck()
        }
    }

    /// `subscription` is going away (unsubscribed, or its connection closing): it holds nothing.
    func forget(_ subscription: Subscription) {
        held.forget(subscription)
    }

    // MARK: Sending

    /// Writes the latest value of `subscription`'s symbol if it is newer than what was sent; either
    /// way the subscription owes nothing and holds nothing afterwards.
    func sendLatest(_ subscription: Subscription, skippedBecause cause: LoopOutput.SkipCause = .backpressure) {
        subscription.subscriber.forgetStale(subscription)
        guard let latest = latestFrames.latest(subscription.symbolID, allocator: allocator),
            latest.seq > subscription.lastSentSeq
        else {
            held.forget(subscription)
            return
        }
        send(latest, to: subscription, because: cause)
    }

    /// Brings `subscriptions` of `id` to the symbol's latest value (a lap's resync, an overdue
    /// symbol): sent now to writable subscribers (one shared frame, looked up once), marked stale for
    /// the others, and held to its next boundary where a subscription has a maximum frequency (it
    /// must not get more than it asked for).
    func bringToLatest(_ subscriptions: ContiguousArray<Subscription>, of id: SymbolID, now: NIODeadline) {
        guard let latest = latestFrames.latest(id, allocator: allocator) else { return }
        for subscription in subscriptions where latest.seq > subscription.lastSentSeq {
            let subscriber = subscription.subscriber
            if let interval = subscription.updateInterval, !subscription.isStale {
                hold(subscription, every: interval, now: now)
            } else if subscriber.isWritable {
                if subscription.isStale { subscriber.forgetStale(subscription) }
                send(latest, to: subscription, because: .backpressure)
            } else {
                markStale(subscription)
            }
        }
    }

    /// Sends `subscriber` the latest value of each symbol it is owed, oldest-stale first, for as long
    /// as its socket takes them; returns how many stale symbols remain (non-zero only if the socket
    /// filled up again). The values are corked, and written at once: the socket just said it takes
    /// more. A flush can leave the socket writable again with nobody told (NIO may coalesce
    /// full-then-drained into no event), so it goes on while the socket takes more and something is owed.
    @discardableResult
    func catchUp(_ subscriber: Subscriber) -> Int {
        repeat {
            // Take the list: a write can close the connection and unsubscribe everything mid-loop,
            // which clears `isStale` on the subscriptions it removes.
            let owed = subscriber.takeStale()
            for (offset, subscription) in owed.enumerated() where subscription.isStale {
                guard subscriber.isWritable else {
                    subscriber.putBackStale(owed[offset...])
                    break
                }
                sendLatest(subscription)
            }
            output.writeNow(subscriber)
            output.publishCounts()
        } while subscriber.staleCount > 0 && subscriber.isWritable
        return subscriber.staleCount
    }

    /// A subscriber can turn unwritable in the middle of a drain (its own writes fill the buffer) and
    /// writable again when the drain flushes it; NIO may then report no change at all, so nobody
    /// would call `catchUp`. Settle those here, so a writable subscriber never ends a drain owing the
    /// latest value of a symbol that may not update again.
    func catchUpThoseWritableAgain() {
        guard !startedOwing.isEmpty else { return }
        let owing = startedOwing
        startedOwing.removeAll(keepingCapacity: true)
        for subscriber in owing where subscriber.staleCount > 0 && subscriber.isWritable {
            catchUp(subscriber)
        }
    }

    /// Subscribers that owe latest values, waiting for the next owed check.
    var owingCount: Int { owing.count }

    private func scheduleOwedCheck() {
        guard !owedCheckScheduled else { return }
        owedCheckScheduled = true
        eventLoop.scheduleTask(in: owedCheckInterval) { self.checkOwed() }
    }

    /// Catches up each owing subscriber whose connection takes more now, whether or not it said so;
    /// keeps the ones still owing (their sockets are full) for the next check. A closed connection's
    /// subscriber owes nothing (removal forgets its stale symbols), so it leaves here at once.
    private func checkOwed() {
        eventLoop.assertInEventLoop()
        owedCheckScheduled = false
        // Take the list (the re-entrancy rule): a catch-up's write may mark others stale.
        let waiting = owing
        owing = []
        for subscriber in waiting {
            if subscriber.staleCount > 0, subscriber.sink.connectionIsWritable {
                // The stored flag too: if no event came, it is what went wrong.
                subscriber.isWritable = true
                output.countOwedCheckCatchUp()
                catchUp(subscriber)
            }
            if subscriber.staleCount > 0 {
                owing.append(subscriber)
            } else {
                subscriber.awaitingOwedCheck = false
            }
        }
        if !owing.isEmpty { scheduleOwedCheck() }
    }

    /// A boundary of `interval`: every subscription held under it gets its symbol's latest value,
    /// and each connection that got something is written once.
    private func releaseHeld(_ interval: UpdateInterval) {
        eventLoop.assertInEventLoop()
        for subscription in held.release(interval) {
            // Stale: the socket could not take an update meanwhile, and catch-up owns it now. (Removed
            // subscriptions are not here: removal lets go of the hold.)
            guard !subscription.isStale else { continue }
            if subscription.subscriber.isWritable {
                sendLatest(subscription, skippedBecause: .throttled)
            } else {
                markStale(subscription)
            }
        }
        // Written within a drain's budget; the rest by the drains that follow.
        if !output.writeQueued(until: eventLoop.now + budget) { requestDrain() }
        output.publishCounts()
        catchUpThoseWritableAgain()
    }

    /// Writes `latest` (newer than what `subscription` was sent), counting what it jumps over by
    /// `cause`. The subscription stops being held: what it held is covered.
    private func send(
        _ latest: (seq: UInt64, message: OutgoingMessage), to subscription: Subscription,
        because cause: LoopOutput.SkipCause
    ) {
        held.forget(subscription)
        output.sendLatest(latest, to: subscription, because: cause)
    }

    func checkInvariants() {
        precondition(owing.allSatisfy(\.awaitingOwedCheck), "an owing subscriber without its flag")
        precondition(Set(owing.map(ObjectIdentifier.init)).count == owing.count, "a subscriber in the owed check twice")
        precondition(owing.isEmpty || owedCheckScheduled, "subscribers owing with no check to come")
        held.checkInvariants()
    }
}
