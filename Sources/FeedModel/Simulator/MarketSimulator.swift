/// One simulated event, before the hub's sequencer gives it a `seq`.
public struct SimulatedTick: Sendable, Hashable {
    /// Index into the simulator's `instruments`.
    public var instrumentIndex: Int
    public var body: TickBody
}

/// A seeded, deterministic market: a geometric random walk per instrument, quoted on its tick grid
/// with a realistic spread, and trades at random times against the current bid or ask.
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
        quotes.reserveCapacity(instruments.count)
        for index in instruments.indices {
            quotes.append(makeQuote(index))
        }
    }

    /// The current quote of every instrument; the opening state before any `next()`.
    public var currentQuotes: [Quote] { quotes }

    public mutating func next() -> SimulatedTick {
        let index = activity.sample(using: &generator)
        if generator.nextUnit() < configuration.tradeProbability {
            let quote = quotes[index]
            let buyerInitiated = generator.next() & 1 == 0
            let lots = Int64(1 + generator.next() % 10)
            let oddLot = generator.nextUnit() < 0.15 ? Int64(generator.next() % 99) + 1 : 0
            let trade = Trade(price: buyerInitiated ? quote.ask : quote.bid, size: oddLot > 0 ? oddLot : lots * 100)
            return SimulatedTick(instrumentIndex: index, body: .trade(trade))
        }
        let logReturn = configuration.volatilityPerEvent * generator.nextGaussian()
        let mid = Double(midInTicks[index])
        midInTicks[index] = max(4, Int64((mid * _exp(logReturn)).rounded()))
        quotes[index] = makeQuote(index)
        return SimulatedTick(instrumentIndex: index, body: .quote(quotes[index]))
    }

    private mutating func makeQuote(_ index: Int) -> Quote {
        let instrument = instruments[index]
        // One tick wide most of the time, wider for cheap or thin names and now and then for anyone.
        var spreadTicks: Int64 = 1
        if generator.nextUnit() < 0.25 { spreadTicks += 1 }
        if index >= 100 { spreadTicks += Int64(generator.next() % 3) }
        let bidTicks = midInTicks[index] - spreadTicks / 2
        let scale = instrument.openingPrice.scale
        return Quote(bid: Price(mantissa: bidTicks * instrument.tickSize, scale: scale),
                     ask: Price(mantissa: (bidTicks + spreadTicks) * instrument.tickSize, scale: scale),
                     bidSize: Int64(1 + generator.next() % 40) * 100,
                     askSize: Int64(1 + generator.next() % 40) * 100)
    }
}
