import FeedModel
import Testing

@Suite struct MarketSimulatorTests {
    @Test func defaultUniverseLooksReal() {
        let instruments = SymbolUniverse.instruments(count: 500, seed: 42)
        #expect(instruments.count == 500)
        #expect(Set(instruments.map(\.symbol)).count == 500)
        #expect(instruments.prefix(3).map(\.symbol.name) == ["AAPL", "MSFT", "NVDA"])
        #expect(instruments.allSatisfy { $0.openingPrice.mantissa > 0 && $0.openingPrice.scale == 4 })
        #expect(SymbolUniverse.instruments(count: 500, seed: 42) == instruments)
    }

    @Test func isDeterministicForASeed() {
        let instruments = SymbolUniverse.instruments(count: 100, seed: 1)
        var a = MarketSimulator(instruments: instruments, seed: 7)
        var b = MarketSimulator(instruments: instruments, seed: 7)
        var c = MarketSimulator(instruments: instruments, seed: 8)
        let runA = (0..<1000).map { _ in a.next() }
        #expect(runA == (0..<1000).map { _ in b.next() })
        #expect(runA != (0..<1000).map { _ in c.next() })
    }

    @Test func quotesAreOnTheTickGridWithAPositiveSpreadAndTradesHitTheQuote() {
        let instruments = SymbolUniverse.instruments(count: 200, seed: 3)
        var simulator = MarketSimulator(instruments: instruments, seed: 3)
        var lastQuote = simulator.currentQuotes
        var trades = 0
        var counts = [Int](repeating: 0, count: instruments.count)
        for _ in 0..<50_000 {
            let event = simulator.next()
            let instrument = instruments[event.instrumentIndex]
            counts[event.instrumentIndex] += 1
            switch event.body {
            case .quote(let quote):
                #expect(quote.bid < quote.ask)
                #expect(quote.bid.mantissa % instrument.tickSize == 0 && quote.ask.mantissa % instrument.tickSize == 0)
                #expect(quote.bidSize > 0 && quote.askSize > 0 && quote.bid.mantissa > 0)
                lastQuote[event.instrumentIndex] = quote
            case .trade(let trade):
                trades += 1
                let quote = lastQuote[event.instrumentIndex]
                #expect(trade.price == quote.bid || trade.price == quote.ask)
                #expect(trade.size > 0)
            }
        }
        #expect((7_000...13_000).contains(trades))       // about 20% trades
        #expect(counts[0] > 10 * counts[150])            // activity is skewed to the front
    }

    @Test func rateScheduleIsExactAndBursts() {
        var schedule = RateSchedule(ticksPerSecond: 1_000)
        _ = schedule.ticksDue(atNanos: 0)
        var total = 0
        for ms in 1...10_000 { total += schedule.ticksDue(atNanos: UInt64(ms) * 1_000_000) }
        #expect(total == 10_000)

        var bursty = RateSchedule(ticksPerSecond: 100, burst: .init(periodNanos: 10_000_000_000, lengthNanos: 1_000_000_000))
        _ = bursty.ticksDue(atNanos: 0)
        var perSecond = [Int](repeating: 0, count: 12)
        for ms in 1...12_000 { perSecond[(ms - 1) / 1000] += bursty.ticksDue(atNanos: UInt64(ms) * 1_000_000) }
        #expect(perSecond[5] == 100)
        #expect((995...1_005).contains(perSecond[10]))  // 10x during the burst second
        #expect(bursty.isBursting(atNanos: 10_500_000_000) && !bursty.isBursting(atNanos: 11_500_000_000))
    }
}
