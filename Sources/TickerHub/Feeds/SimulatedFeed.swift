import FanoutEngine
import FeedModel
import NIOCore
import ServiceLifecycle

/// The embedded feed source: drives `MarketSimulator` on the publisher's loop. Every
/// `feedIntervalMilliseconds` it asks the `RateSchedule` how many events are due, generates them and
/// publishes them as one batch, so consumers are woken once per interval, not once per tick.
///
/// The timer runs at a fixed rate (the n-th batch is due at start + n intervals), not with a fixed
/// delay after each batch: a fixed delay drifts by each batch's own run time, so now and then two
/// intervals' ticks fall into one batch and the older one waits an extra interval.
///
/// Before the first interval it publishes every instrument's opening quote (seq 1) and order book,
/// so snapshots have values from the first connection on. Each event's change to its instrument's
/// book (`SimulatedTick.bookChange`) goes out in the same batch as the event.
final class SimulatedFeed: FeedSource, @unchecked Sendable {
    // @unchecked: all mutable state is confined to the publisher's event loop.

    private let publisher: TickPublisher
    private var simulator: MarketSimulator
    private var schedule: RateSchedule
    private let ids: [SymbolID]
    private let interval: TimeAmount
    private var task: Scheduled<Void>?
    private var stopped = false
    /// Batches published on the timer so far; the next is due at `startedAt + (batches + 1) * interval`.
    private var batches: Int64 = 0
    private var startedAt = NIODeadline.now()
    /// `startedAt` on the wall clock, which `ts` is measured in.
    private var startedAtWallClock = Timestamp.now()
    /// Monotonic nanoseconds since `startedAt` at the previous batch.
    private var lastBatchElapsed: UInt64 = 0

    init(configuration: HubConfiguration, publisher: TickPublisher) {
        self.publisher = publisher
        let instruments = FeedSources.simulatedInstruments(configuration)
        simulator = MarketSimulator(instruments: instruments, seed: configuration.seed)
        ids = instruments.map { instrument in
            guard let id = publisher.directory.register(instrument.symbol) else {
                preconditionFailure("the symbol directory cannot hold the simulated universe")
            }
            return id
        }
        var burst: RateSchedule.Burst?
        if let period = configuration.burstPeriodSeconds {
            burst = .init(
                periodNanos: UInt64(period * 1e9), lengthNanos: UInt64(configuration.burstLengthSeconds * 1e9))
        }
        schedule = RateSchedule(ticksPerSecond: configuration.ticksPerSecond, burst: burst)
        interval = .milliseconds(Int64(max(configuration.feedIntervalMilliseconds, 1)))
    }

    var name: String { "sim" }
    var acceptsPublishers: Bool { false }

    /// Runs the market until a graceful shutdown (or cancellation).
    func run() async throws {
        start()
        try? await gracefulShutdown()
        await stop()
    }

    func start() {
        publisher.eventLoop.execute {
            self.publishOpeningQuotes()
            self.startedAt = .now()
            self.startedAtWallClock = .now()
            _ = self.schedule.ticksDue(atNanos: 0)
            self.scheduleNextBatch()
        }
    }

    func stop() async {
        try? await publisher.eventLoop.submit {
            self.stopped = true
            self.task?.cancel()
        }.get()
    }

    private func scheduleNextBatch() {
        guard !stopped else { return }
        batches += 1
        // At a low rate, sleep through the intervals in which nothing falls due.
        let idle = Int64(schedule.nanosUntilNextTick(atNanos: lastBatchElapsed)) / interval.nanoseconds
        if idle > 1 { batches += idle - 1 }
        var due = startedAt + interval * batches
        let now = NIODeadline.now()
        if due < now - interval {
            // Far behind (the thread was starved): skip the missed timer slots. The ticks are not
            // lost: the rate schedule counts them as due, and each carries its due time.
            batches = (now - startedAt).nanoseconds / interval.nanoseconds + 1
            due = startedAt + interval * batches
        }
        task = publisher.eventLoop.scheduleTask(deadline: due) {
            self.publishDueTicks()
            self.scheduleNextBatch()
        }
    }

    private func publishOpeningQuotes() {
        let now = Timestamp.now()
        let updates = zip(ids, zip(simulator.instruments, simulator.currentQuotes)).map { id, pair in
            FeedUpdate(symbolID: id, symbol: pair.0.symbol, timestamp: now, body: .quote(pair.1))
        }
        let books = zip(ids, zip(simulator.instruments, simulator.openingBooks)).map { id, pair in
            BookFeedUpdate(symbolID: id, symbol: pair.0.symbol, timestamp: now, change: pair.1, replacesBook: true)
        }
        publisher.publishDetails(
            zip(ids, simulator.instruments).map { ($0, InstrumentRecord(symbol: $1.symbol, details: $1.details)) })
        publisher.publishOnLoop(updates, books: books)
    }

    /// Each tick carries the time it was *due*, spread evenly over the time since the last batch,
    /// not the time this timer got round to it: if the publisher's thread is held up, the delay
    /// shows in every client's latency instead of being hidden (no coordinated omission).
    private func publishDueTicks() {
        let elapsed = UInt64(max(0, (NIODeadline.now() - startedAt).nanoseconds))
        let due = schedule.ticksDue(atNanos: elapsed)
        defer { lastBatchElapsed = elapsed }
        guard due > 0 else { return }
        let step = (elapsed - min(lastBatchElapsed, elapsed)) / UInt64(due)
        var updates: [FeedUpdate] = []
        updates.reserveCapacity(due)
        var books: [BookFeedUpdate] = []
        books.reserveCapacity(due)
        for k in 0..<due {
            let event = simulator.next()
            let instrument = simulator.instruments[event.instrumentIndex]
            let dueAt = Timestamp(
                nanosecondsSinceEpoch: startedAtWallClock.nanosecondsSinceEpoch
                    + elapsed - UInt64(due - 1 - k) * step)
            updates.append(
                FeedUpdate(
                    symbolID: ids[event.instrumentIndex], symbol: instrument.symbol,
                    timestamp: dueAt, body: event.body))
            if !event.bookChange.isEmpty {
                books.append(
                    BookFeedUpdate(
                        symbolID: ids[event.instrumentIndex], symbol: instrument.symbol,
                        timestamp: dueAt, change: event.bookChange))
            }
        }
        publisher.publishOnLoop(updates, books: books)
    }
}
