/// One simulated event, before the hub's sequencer gives it a `seq`.
public struct SimulatedTick: Sendable, Hashable {
    /// Index into the simulator's `instruments`.
    public var instrumentIndex: Int
    public var body: TickBody
    /// The change to the instrument's order book that comes with it (empty when the book did not
    /// change): level sets, the size now at each price, 0 for a level gone.
    public var bookChange: BookDelta = BookDelta()
}

/// A seeded, deterministic market: a geometric random walk per instrument, quoted on its tick grid
/// with a realistic spread, and trades at random times against the current bid or ask.
///
/// Each instrument has an order book (`SimulatedBook`) whose best levels are always its last quote:
/// a quote moves the top and churns the levels behind it, and a trade takes liquidity from the level
/// it hits and is followed, as the next event, by the quote that shows what it left.
///
/// Activity is skewed the way real markets are: instrument `i` is chosen with weight
/// `1 / (i + 1)^activitySkew`, so the well-known names at the front of the universe are the busiest.
/// The simulator knows nothing about time or rate; `RateSchedule` decides how many events are due.
public struct MarketSimulator: Sendable {
    public struct Configuration: Sendable {
        /// Standard deviation of the log-return per event of an instrument (5 basis points).
        public var volatilityPerEvent: Double = 0.0005
        /// Share of events that are trades rather than quote changes.
        public var tradeProbability: Double = 0.2
        /// Zipf exponent of per-instrument activity; 0 makes every instrument equally busy.
        public var activitySkew: Double = 0.8

        public init() {}
    }

    public let instruments: [Instrument]
    private let configuration: Configuration
    private var generator: SeededGenerator
    /// Mid price of each instrument, in units of its tick size. Integer on purpose: no float drift.
    private var midInTicks: [Int64]
    private var quotes: [Quote]
    private var books: [SimulatedBook]
    /// An instrument whose trade changed its best level: its quote is the next event.
    private var quoteAfterTrade: Int?
    /// Which instrument the next event is for.
    private let activity: ZipfDistribution

    public init(instruments: [Instrument], seed: UInt64, configuration: Configuration = Configuration()) {
        precondition(!instruments.isEmpty, "the simulator needs at least one instrument")
        self.instruments = instruments
        self.configuration = configuration
        self.generator = SeededGenerator(seed: seed)
        activity = ZipfDistribution(count: instruments.count, exponent: configuration.activitySkew)
        midInTicks = instruments.map { max(4, $0.openingPrice.mantissa / $0.tickSize) }
        quotes = []
        books = []
        quotes.reserveCapacity(instruments.count)
        for index in instruments.indices {
            quotes.append(makeQuote(index))
        }
        books.reserveCapacity(instruments.count)
        for index in instruments.indices {
            books.append(
                SimulatedBook(quote: quotes[index], tickSize: instruments[index].tickSize, generator: &generator))
        }
    }

    /// Every instrument's opening book, as one change each from an empty book.
    public var openingBooks: [BookDelta] { books.map(\.opening) }

    /// The order book of instrument `index` now.
    public func book(of index: Int) -> OrderBook { books[index].book }

    /// The current quote of every instrument; the opening state before any `next()`.
    public var currentQuotes: [Quote] { quotes }

    public mutating func next() -> SimulatedTick {
        if let index = quoteAfterTrade {
            quoteAfterTrade = nil
            quotes[index] = books[index].quote
            return SimulatedTick(instrumentIndex: index, body: .quote(quotes[index]))
        }
        let index = activity.sample(using: &generator)
        if generator.nextUnit() < configuration.tradeProbability {
            let quote = quotes[index]
            let buyerInitiated = generator.next() & 1 == 0
            let lots = Int64(1 + generator.next() % 10)
            let oddLot = generator.nextUnit() < 0.15 ? Int64(generator.next() % 99) + 1 : 0
            let (traded, change) = books[index].take(
                buyerInitiated ? .ask : .bid, size: oddLot > 0 ? oddLot : lots * 100,
                generator: &generator)
            quoteAfterTrade = index
            let trade = Trade(price: buyerInitiated ? quote.ask : quote.bid, size: traded)
            return SimulatedTick(instrumentIndex: index, body: .trade(trade), bookChange: change)
        }
        let logReturn = configuration.volatilityPerEvent * generator.nextGaussian()
        let mid = Double(midInTicks[index])
        midInTicks[index] = max(4, Int64((mid * _exp(logReturn)).rounded()))
        quotes[index] = makeQuote(index)
        let change = books[index].show(quotes[index], generator: &generator)
        return SimulatedTick(instrumentIndex: index, body: .quote(quotes[index]), bookChange: change)
    }

    private mutating func makeQuote(_ index: Int) -> Quote {
        let instrument = instruments[index]
        // One tick wide most of the time, wider for cheap or thin names and now and then for anyone.
        var spreadTicks: Int64 = 1
        if generator.nextUnit() < 0.25 { spreadTicks += 1 }
        if index >= 100 { spreadTicks += Int64(generator.next() % 3) }
        let bidTicks = midInTicks[index] - spreadTicks / 2
        let scale = instrument.openingPrice.scale
        return Quote(
            bid: Price(mantissa: bidTicks * instrument.tickSize, scale: scale),
            ask: Price(mantissa: (bidTicks + spreadTicks) * instrument.tickSize, scale: scale),
            bidSize: Int64(1 + generator.next() % 40) * 100,
            askSize: Int64(1 + generator.next() % 40) * 100)
    }
}
