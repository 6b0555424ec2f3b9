import FeedModel
import Testing

@Suite struct OrderBookTests {
    static func price(_ text: String) -> Price { Price(text)! }
    static func level(_ price: String, _ size: Int64) -> PriceLevel { PriceLevel(price: Self.price(price), size: size) }

    @Test func crc32IsTheStandardOne() {
        var crc = CRC32()
        crc.add(Array("123456789".utf8))
        #expect(crc.value == 0xCBF4_3926)
        #expect(CRC32().value == 0)
    }

    /// The format docs/PROTOCOL.md defines, spelled out: asks best first, then bids best first,
    /// each price without its point and leading zeros, then its size.
    @Test func theChecksumIsTheCRCOfTheDocumentedString() throws {
        let book = try OrderBook(
            bids: [Self.level("189.1000", 500), Self.level("189.1100", 200)],
            asks: [Self.level("189.1300", 300), Self.level("0.0500", 7)])
        // asks: 0.0500 × 7 is "5007", 189.1300 × 300 "1891300300"; bids: 189.1100 × 200, 189.1000 × 500
        var expected = CRC32()
        expected.add(Array(("5007" + "1891300300" + "1891100200" + "1891000500").utf8))
        #expect(book.checksum == expected.value)
    }

    @Test func aNegativePriceKeepsItsSign() throws {
        let book = try OrderBook(bids: [Self.level("-1.25", 3)], asks: [])
        var expected = CRC32()
        expected.add(Array("-1253".utf8))
        #expect(book.checksum == expected.value)
    }

    @Test func onlyTheTopTenLevelsCount() throws {
        var book = OrderBook()
        for index in 0..<12 { try book.set(.ask, price: Price(mantissa: Int64(100 + index), scale: 2), size: 1) }
        let before = book.checksum
        try book.set(.ask, price: Price(mantissa: 111, scale: 2), size: 9)  // the 12th level
        #expect(book.checksum == before)
        try book.set(.ask, price: Price(mantissa: 109, scale: 2), size: 9)  // the 10th
        #expect(book.checksum != before)
    }

    @Test func levelsStayOrderedBestFirstAndSizeZeroRemoves() throws {
        var book = OrderBook()
        try book.set(.bid, price: Self.price("10.00"), size: 5)
        try book.set(.bid, price: Self.price("10.02"), size: 1)
        try book.set(.bid, price: Self.price("10.01"), size: 2)
        try book.set(.ask, price: Self.price("10.05"), size: 4)
        try book.set(.ask, price: Self.price("10.03"), size: 3)
        #expect(book.bids.map(\.price) == ["10.02", "10.01", "10.00"].map(Self.price))
        #expect(book.asks.map(\.price) == ["10.03", "10.05"].map(Self.price))
        try book.set(.bid, price: Self.price("10.01"), size: 7)
        #expect(book.bids[1].size == 7)
        try book.set(.bid, price: Self.price("10.02"), size: 0)
        #expect(book.bestBid == Self.level("10.01", 7))
        try book.set(.ask, price: Self.price("10.04"), size: 0)  // not there: nothing happens
        #expect(book.asks.count == 2)
    }

    @Test func badLevelsAreRefusedAndChangeNothing() throws {
        var book = try OrderBook(bids: [Self.level("10.00", 5)], asks: [])
        #expect(throws: BookError.negativeSize) { try book.set(.bid, price: Self.price("9.99"), size: -1) }
        #expect(throws: BookError.scaleMismatch(book: 2, price: 4)) {
            try book.set(.ask, price: Self.price("10.0100"), size: 1)
        }
        let delta = BookDelta(bids: [Self.level("9.99", 1)], asks: [Self.level("10.1", 1)])
        #expect(throws: BookError.scaleMismatch(book: 2, price: 1)) { try book.apply(delta) }
        #expect(book == (try OrderBook(bids: [Self.level("10.00", 5)], asks: [])))
    }

    @Test func aSideHoldsAtMostMaxDepthLevels() throws {
        var book = OrderBook()
        for index in 0..<(OrderBook.maxDepth + 50) {
            try book.set(.bid, price: Price(mantissa: Int64(10_000 - index), scale: 2), size: 1)
        }
        #expect(book.bids.count == OrderBook.maxDepth)
        #expect(book.bids.last?.price == Price(mantissa: Int64(10_000 - OrderBook.maxDepth + 1), scale: 2))
        // A better level pushes the worst out.
        try book.set(.bid, price: Price(mantissa: 20_000, scale: 2), size: 1)
        #expect(book.bids.count == OrderBook.maxDepth)
        #expect(book.bestBid?.price == Price(mantissa: 20_000, scale: 2))
    }

    /// The promise a client relies on: at every depth, a snapshot followed by each delta gives
    /// exactly the hub's top levels and checksum, through random adds, resizes, removals and
    /// levels moving in and out of the window; and a snapshot sent in place of missed deltas
    /// (a slow subscriber) puts it right again.
    @Test(arguments: OrderBook.depths)
    func deltasReproduceTheBookAtEveryDepth(depth: Int) throws {
        var generator = SeededGenerator(seed: UInt64(depth))
        var hub = OrderBook()
        var client = hub.truncated(to: depth)
        for step in 0..<20_000 {
            let before = hub
            for _ in 0..<Int(generator.next() % 4 + 1) {
                let side: BookSide = generator.next() & 1 == 0 ? .bid : .ask
                // Bids 90.00–100.00, asks 100.01–110.00, so sides never cross; sizes 0 often.
                let offset = Int64(generator.next() % 1000)
                let mantissa = side == .bid ? 10_000 - offset : 10_001 + offset
                let size = generator.next() % 3 == 0 ? 0 : Int64(generator.next() % 5000 + 1)
                try hub.set(side, price: Price(mantissa: mantissa, scale: 2), size: size)
            }
            if step % 997 == 0 {
                client = hub.truncated(to: depth)  // missed deltas: a fresh snapshot instead
                continue
            }
            try client.apply(hub.delta(from: before, depth: depth))
            #expect(client == hub.truncated(to: depth))
            #expect(client.checksum == hub.checksum)
            if client != hub.truncated(to: depth) { return }
        }
    }

    @Test func aDeltaListsOnlyWhatChangedInTheWindow() throws {
        let before = try OrderBook(
            bids: [Self.level("10.00", 5), Self.level("9.99", 1), Self.level("9.98", 2)], asks: [])
        var after = before
        try after.set(.bid, price: Self.price("10.00"), size: 0)  // the best leaves: 9.98 enters a window of 2
        try after.set(.bid, price: Self.price("9.99"), size: 1)  // unchanged
        let delta = after.delta(from: before, depth: 2)
        #expect(delta.bids == [Self.level("10.00", 0), Self.level("9.98", 2)])
        // Removals first: a client bounded at the window never drops a level that stays.
        let full = try OrderBook(bids: [Self.level("10.00", 5), Self.level("9.99", 1)], asks: [])
        var next = full
        try next.set(.bid, price: Self.price("10.01"), size: 3)  // a better level arrives...
        try next.set(.bid, price: Self.price("10.00"), size: 0)  // ...and one leaves
        #expect(next.delta(from: full, depth: 2).bids == [Self.level("10.00", 0), Self.level("10.01", 3)])
        #expect(delta.asks.isEmpty)
    }
}
