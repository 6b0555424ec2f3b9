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
        #expect((7_000...13_000).contains(trades))  // about 20% trades
        #expect(counts[0] > 10 * counts[150])  // activity is skewed to the front
    }

    @Test func rateScheduleIsExactAndBursts() {
        var schedule = RateSchedule(ticksPerSecond: 1_000)
        _ = schedule.ticksDue(atNanos: 0)
        var total = 0
        for ms in 1...10_000 { total += schedule.ticksDue(atNanos: UInt64(ms) * 1_000_000) }
        #expect(total == 10_000)

        var bursty = RateSchedule(
            ticksPerSecond: 100, burst: .init(periodNanos: 10_000_000_000, lengthNanos: 1_000_000_000))
        _ = bursty.ticksDue(atNanos: 0)
        var perSecond = [Int](repeating: 0, count: 12)
        for ms in 1...12_000 { perSecond[(ms - 1) / 1000] += bursty.ticksDue(atNanos: UInt64(ms) * 1_000_000) }
        #expect(perSecond[5] == 100)
        #expect((995...1_005).contains(perSecond[10]))  // 10x during the burst second
        #expect(bursty.isBursting(atNanos: 10_500_000_000) && !bursty.isBursting(atNanos: 11_500_000_000))
    }

    @Test func aDriverThatSleepsUntilTheNextTickLosesNothing() {
        // Woken only when the schedule says the next event is due, a driver at 10 ticks/s wakes about
        // ten times a second, and still gets exactly the rate, bursts included.
        var schedule = RateSchedule(
            ticksPerSecond: 10, burst: .init(periodNanos: 10_000_000_000, lengthNanos: 1_000_000_000))
        _ = schedule.ticksDue(atNanos: 0)
        var now: UInt64 = 0, wakes = 0, total = 0, inBurst = 0
        while now < 20_000_000_000 {
            let sleep = schedule.nanosUntilNextTick(atNanos: now)
            #expect(sleep > 0)
            // A 1 ms timer grid, as the simulated feed has.
            now += max(1_000_000, (sleep + 999_999) / 1_000_000 * 1_000_000)
            wakes += 1
            let due = schedule.ticksDue(atNanos: now)
            total += due
            if schedule.isBursting(atNanos: now) { inBurst += due }
        }
        // 9 quiet seconds, 1 burst second at 100/s, 10 quiet seconds: 290 ticks.
        #expect((288...292).contains(total), "\(total) ticks")
        #expect((95...105).contains(inBurst))
        #expect(wakes < 450, "\(wakes) wakes for \(total) ticks")
        // It never sleeps into a burst.
        var quiet = RateSchedule(
            ticksPerSecond: 0.1, burst: .init(periodNanos: 10_000_000_000, lengthNanos: 1_000_000_000))
        _ = quiet.ticksDue(atNanos: 0)
        #expect(quiet.nanosUntilNextTick(atNanos: 9_000_000_000) == 1_000_000_000)
    }

    /// Each instrument's book, rebuilt by a client from the opening books and every event's change,
    /// is the simulator's; its best levels are the last quote after every quote; a trade takes no
    /// more than the level it hits holds, and the next event is the quote that shows what it left.
    @Test func eachBookFollowsItsQuoteAndTradesTakeLiquidity() throws {
        let instruments = SymbolUniverse.instruments(count: 30, seed: 5)
        var simulator = MarketSimulator(instruments: instruments, seed: 5)
        var books = try simulator.openingBooks.map { change in
            var book = OrderBook()
            try book.apply(change)
            return book
        }
        for (index, quote) in simulator.currentQuotes.enumerated() {
            #expect(books[index].bestBid == PriceLevel(price: quote.bid, size: quote.bidSize))
            #expect(books[index].bestAsk == PriceLevel(price: quote.ask, size: quote.askSize))
            #expect(books[index].bids.count > 25 && books[index].asks.count > 25)
        }
        var tradeAwaitingQuote: (index: Int, trade: Trade, levelBefore: PriceLevel)?
        var levelsChanged = 0
        for _ in 0..<20_000 {
            let event = simulator.next()
            let before = books[event.instrumentIndex]
            try books[event.instrumentIndex].apply(event.bookChange)
            let book = books[event.instrumentIndex]
            levelsChanged += event.bookChange.bids.count + event.bookChange.asks.count
            if let pending = tradeAwaitingQuote {
                #expect(event.instrumentIndex == pending.index, "the quote after a trade comes next")
                #expect(event.bookChange.isEmpty)
                tradeAwaitingQuote = nil
            }
            switch event.body {
            case .quote(let quote):
                #expect(book.bestBid == PriceLevel(price: quote.bid, size: quote.bidSize))
                #expect(book.bestAsk == PriceLevel(price: quote.ask, size: quote.askSize))
            case .trade(let trade):
                let hit = try #require(trade.price == before.bestAsk?.price ? before.bestAsk : before.bestBid)
                #expect(trade.price == hit.price && trade.size > 0 && trade.size <= hit.size)
                tradeAwaitingQuote = (event.instrumentIndex, trade, hit)
            }
            #expect(book.bestBid!.price < book.bestAsk!.price, "crossed book")
            #expect(book.bids.allSatisfy { $0.price.mantissa % instruments[event.instrumentIndex].tickSize == 0 })
        }
        for index in instruments.indices { #expect(books[index] == simulator.book(of: index)) }
        #expect(levelsChanged > 40_000, "the books barely move: \(levelsChanged) level changes")
    }
}
