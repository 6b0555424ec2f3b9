import FeedModel
import NIOCore

/// The simulated market a publisher sends: ticks fall due at the rate's schedule and are taken in
/// batches; numbered here (per symbol, from 1) when the publisher is the numbering source (NATS),
/// left at seq 0 when the hub numbers them (`/ingest`). With `books`, each tick's change to its
/// symbol's order book comes with it, numbered per symbol (the book's own seq), after the whole
/// opening books.
struct SimulatedTicks {
    private var simulator: MarketSimulator
    private var schedule: RateSchedule
    private let limit: Int?
    private let started = NIODeadline.now()
    private var lastSeq: [UInt64]
    /// The last book seq per symbol; nil: books are not sent.
    private var lastBookSeq: [UInt64]?
    private(set) var owed = 0
    private(set) var generated = 0

    init(symbols: Int, seed: UInt64, rate: Double, limit: Int?, books: Bool = false) {
        lastBookSeq = books ? Array(repeating: 0, count: symbols) : nil
        simulator = MarketSimulator(instruments: SymbolUniverse.instruments(count: symbols, seed: seed), seed: seed)
        schedule = RateSchedule(ticksPerSecond: rate)
        _ = schedule.ticksDue(atNanos: 0)
        lastSeq = Array(repeating: 0, count: symbols)
        self.limit = limit
    }

    var reachedLimit: Bool { limit.map { generated >= $0 } ?? false }

    /// Every instrument's opening quote, numbered: what a numbering publisher sends first, so a hub
    /// that listens from the start has every symbol's value at once.
    mutating func openingQuotes() -> [Tick] {
        let now = Timestamp.now()
        return simulator.instruments.indices.map { index in
            lastSeq[index] += 1
            return Tick(
                symbol: simulator.instruments[index].symbol, seq: lastSeq[index], timestamp: now,
                body: .quote(simulator.currentQuotes[index]))
        }
    }

    /// Every instrument's details: sent first, so screens can format its prices.
    var instruments: [InstrumentRecord] {
        simulator.instruments.map { InstrumentRecord(symbol: $0.symbol, details: $0.details) }
    }

    /// Every instrument's whole opening book, numbered (empty without books): sent before the first
    /// changes, so a hub's books start whole.
    mutating func openingBooks() -> [BookRecord] {
        guard lastBookSeq != nil else { return [] }
        let now = Timestamp.now()
        return simulator.openingBooks.enumerated().map { index, book in
            lastBookSeq![index] += 1
            return BookRecord(
                symbol: simulator.instruments[index].symbol, seq: lastBookSeq![index], timestamp: now, change: book,
                replacesBook: true)
        }
    }

    /// Adds the ticks fallen due since the last call (within the limit).
    mutating func accrue() {
        owed += schedule.ticksDue(atNanos: UInt64((NIODeadline.now() - started).nanoseconds))
        if let limit { owed = min(owed, limit - generated) }
    }

    /// Up to `count` of the owed ticks, stamped now, with their book changes.
    mutating func take(_ count: Int, numbered: Bool) -> FeedBatch {
        let size = min(count, owed)
        let now = Timestamp.now()
        var ticks: [Tick] = []
        ticks.reserveCapacity(size)
        var books: [BookRecord] = []
        for _ in 0..<size {
            let event = simulator.next()
            var seq: UInt64 = 0
            if numbered {
                lastSeq[event.instrumentIndex] += 1
                seq = lastSeq[event.instrumentIndex]
            }
            let symbol = simulator.instruments[event.instrumentIndex].symbol
            ticks.append(Tick(symbol: symbol, seq: seq, timestamp: now, body: event.body))
            if lastBookSeq != nil, !event.bookChange.isEmpty {
                lastBookSeq![event.instrumentIndex] += 1
                books.append(
                    BookRecord(
                        symbol: symbol, seq: lastBookSeq![event.instrumentIndex], timestamp: now,
                        change: event.bookChange))
            }
        }
        owed -= size
        generated += size
        return FeedBatch(ticks: ticks, books: books)
    }
}
