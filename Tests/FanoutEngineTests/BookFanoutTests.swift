@testable import FanoutEngine
import FeedModel
import Foundation
import NIOCore
import Testing

/// Order books through the real publisher, ring and loop consumer (docs/PROTOCOL.md, "Order
/// books"): a client that applies what it is sent always holds the hub's book and its checksum,
/// through backpressure, conflation to a fresh `book`, and lapped readers.
@Suite struct BookFanoutTests {
    /// A client's book of one (symbol, depth) stream, checked as a careful client checks it.
    struct ModelBookClient {
        var books: [String: (seq: UInt64, book: OrderBook)] = [:]
        var gapTotal: UInt64 = 0
        var checksumsVerified = 0
        var booksReplaced = 0

        mutating func start(_ snapshot: BookSnapshot) {
            books[snapshot.symbol.name] = (snapshot.seq, snapshot.book.truncated(to: snapshot.depth))
        }

        mutating func receive(_ texts: [String], depth: Int) throws {
            for text in texts {
                let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
                let symbol = try #require(object["symbol"] as? String)
                let seq = try #require((object["seq"] as? NSNumber)?.uint64Value)
                let previous = try #require(books[symbol])
                #expect(object["depth"] as? Int == depth)
                #expect(seq > previous.seq, "seq went backwards or repeated: \(text)")
                var book: OrderBook
                switch object["type"] as? String {
                case "book":
                    book = OrderBook()
                    booksReplaced += 1
                case "bookUpdate":
                    #expect(seq == previous.seq + 1, "an update skipped seqs without a fresh book")
                    book = previous.book
                default:
                    Issue.record("not a book message: \(text)")
                    continue
                }
                for (key, side) in [("bids", BookSide.bid), ("asks", .ask)] {
                    for level in try #require(object[key] as? [[String]]) {
                        try book.set(side, price: try #require(Price(level[0])), size: try #require(Int64(level[1])))
                    }
                }
                #expect(book.bids.count <= depth && book.asks.count <= depth)
                #expect(
                    UInt32(truncating: try #require(object["checksum"] as? NSNumber)) == book.checksum,
                    "checksum mismatch: \(text)")
                checksumsVerified += 1
                gapTotal += seq - previous.seq - 1
                books[symbol] = (seq, book)
            }
        }
    }

    /// 3 depths × 2 subscribers each, random writability, a simulated market's book changes; with a
    /// 4 KiB ring the consumer is lapped over and over and resyncs every book from the cache.
    @Test(arguments: [1 << 16, 4096])
    func aClientAlwaysHoldsTheHubsBookThroughConflationAndLaps(ringBytes: Int) throws {
        let hub = FanoutHarness(ringBytes: ringBytes)
        let symbols = [hub.aapl, hub.msft]
        var simulator = MarketSimulator(
            instruments: SymbolUniverse.instruments(
                named: symbols.map { hub.directory.symbol(for: $0)! },
                seed: 7), seed: 7)
        hub.publisher.publishOnLoop(
            [],
            books: zip(symbols, simulator.openingBooks).map { id, change in
                BookFeedUpdate(
                    symbolID: id, symbol: hub.directory.symbol(for: id)!, timestamp: .now(), change: change,
                    replacesBook: true)
            })
        hub.loop.run()

        let depths = OrderBook.depths.flatMap { [$0, $0] }
        let sinks = depths.map { _ in RecordingSink() }
        let subscribers = sinks.map { Subscriber(sink: $0) }
        var clients = depths.map { _ in ModelBookClient() }
        for (n, depth) in depths.enumerated() {
            let streams = symbols.map { hub.directory.bookStream(of: $0, depth: depth)! }
            let starts = hub.fanout.subscribe(
                subscribers[n], to: streams, symbols: symbols.map { hub.directory.symbol(for: $0)! },
                updateInterval: nil, resumingAfter: streams.map { _ in nil }, replayLimit: 0)
            for start in starts { clients[n].start(try #require(start.book)) }
        }
        var generator = SeededGenerator(seed: UInt64(ringBytes))
        for _ in 0..<(ringBytes == 4096 ? 300 : 1_000) {
            for (n, sink) in sinks.enumerated() where generator.next() % 8 == 0 {
                let wasWritable = sink.isWritable
                sink.isWritable.toggle()
                if !wasWritable { hub.fanout.catchUp(subscribers[n]) }
            }
            var books: [BookFeedUpdate] = []
            for _ in 0..<(Int(generator.next() % (ringBytes == 4096 ? 40 : 4)) + 1) {
                let event = simulator.next()
                guard !event.bookChange.isEmpty else { continue }
                let id = symbols[event.instrumentIndex]
                books.append(
                    BookFeedUpdate(
                        symbolID: id, symbol: hub.directory.symbol(for: id)!, timestamp: .now(),
                        change: event.bookChange))
            }
            hub.publisher.publishOnLoop([], books: books)
            hub.loop.run()
            for (n, sink) in sinks.enumerated() { try clients[n].receive(sink.takeTexts(), depth: depths[n]) }
        }
        for (n, sink) in sinks.enumerated() where !sink.isWritable {
            sink.isWritable = true
            hub.fanout.catchUp(subscribers[n])
        }
        hub.loop.run()
        for (n, sink) in sinks.enumerated() {
            try clients[n].receive(sink.takeTexts(), depth: depths[n])
            #expect(clients[n].gapTotal == subscribers[n].dropped)
            #expect(clients[n].booksReplaced == Int(subscribers[n].conflated))
            for (index, id) in symbols.enumerated() {
                let stream = hub.directory.bookStream(of: id, depth: depths[n])!
                let latest = try #require(hub.lastValues.book(of: stream))
                let held = try #require(clients[n].books[latest.symbol.name])
                #expect(held.seq == latest.seq)
                #expect(held.book == latest.book.truncated(to: depths[n]))
                // And the hub's book is the simulator's: nothing was lost between them.
                #expect(latest.book == simulator.book(of: index))
            }
        }
        let replaced = clients.reduce(0) { $0 + $1.booksReplaced }
        #expect(replaced > 0, "no subscriber was ever conflated: the test did not exercise it")
        if ringBytes == 4096 {
            // Laps, and depth-100 messages too big for a 512-byte record: both settled from the cache.
            #expect(hub.counters.snapshot().ringLaps > 0)
            #expect(hub.counters.oversizeRecords.load(ordering: .relaxed) > 0)
        }
        #expect(hub.counters.snapshot().bookUpdatesRefused == 0)
        hub.fanout.checkInvariants()
    }

    /// A change below a depth's window is not sent to that depth at all, and a refused change
    /// (another price scale) leaves the book and every stream's seq as they were.
    @Test func aDepthGetsOnlyTheChangesItShowsAndARefusedChangeChangesNothing() throws {
        let hub = FanoutHarness()
        let symbol = hub.directory.symbol(for: hub.aapl)!
        func level(_ price: String, _ size: Int64) -> PriceLevel { PriceLevel(price: Price(price)!, size: size) }
        let opening = BookDelta(
            bids: (0..<30).map { level("100.\(String(format: "%02d", 99 - $0))", 100) },
            asks: (0..<30).map { level("101.\(String(format: "%02d", $0))", 100) })
        hub.publisher.publishOnLoop(
            [], books: [BookFeedUpdate(symbolID: hub.aapl, symbol: symbol, timestamp: .now(), change: opening)])
        hub.loop.run()
        let streams = OrderBook.depths.map { hub.directory.bookStream(of: hub.aapl, depth: $0)! }
        #expect(streams.map { hub.lastValues.book(of: $0)?.seq } == [1, 1, 1])
        // The 20th bid changes: depths 25 and 100 see it, depth 10 does not.
        hub.publisher.publishOnLoop(
            [],
            books: [
                BookFeedUpdate(
                    symbolID: hub.aapl, symbol: symbol, timestamp: .now(),
                    change: BookDelta(bids: [level("100.80", 700)]))
            ])
        hub.loop.run()
        #expect(streams.map { hub.lastValues.book(of: $0)?.seq } == [1, 2, 2])
        // Another scale: refused whole, counted.
        hub.publisher.publishOnLoop(
            [],
            books: [
                BookFeedUpdate(
                    symbolID: hub.aapl, symbol: symbol, timestamp: .now(),
                    change: BookDelta(bids: [level("100.995", 1)]))
            ])
        hub.loop.run()
        #expect(streams.map { hub.lastValues.book(of: $0)?.seq } == [1, 2, 2])
        #expect(hub.counters.snapshot().bookUpdatesRefused == 1 && hub.counters.snapshot().bookUpdatesIn == 2)
        // The book streams are not symbols: listing and counting see two symbols.
        #expect(hub.directory.count == 2 && hub.directory.allSymbols.map(\.name) == ["AAPL", "MSFT"])
        #expect(hub.directory.symbol(for: streams[0]) == symbol && hub.directory.bookDepth(of: streams[2]) == 100)
        #expect(hub.directory.bookStreams(of: streams[0]) == nil, "a book stream has no books of its own")
    }

    /// A numbered book changes only when it follows on from a whole book (or starts at seq 1): a
    /// jump, or joining mid-stream, drops its changes until a whole book comes, so the hub never
    /// serves a book it knows may be wrong.
    @Test func aBookThatSkippedAChangeWaitsForAWholeBook() throws {
        let hub = FanoutHarness()
        let symbol = hub.directory.symbol(for: hub.aapl)!
        let stream = hub.directory.bookStream(of: hub.aapl, depth: 10)!
        func publish(_ seq: UInt64, whole: Bool = false, bid: String = "1.00") {
            let change = BookDelta(
                bids: [PriceLevel(price: Price(bid)!, size: Int64(seq))],
                asks: [PriceLevel(price: Price("2.00")!, size: 1)])
            hub.publisher.publishOnLoop(
                [],
                books: [
                    BookFeedUpdate(
                        symbolID: hub.aapl, symbol: symbol, timestamp: .now(), change: change,
                        replacesBook: whole, upstreamSeq: seq)
                ])
            hub.loop.run()
        }
        publish(3)  // joined mid-stream: nothing to build on
        #expect(hub.lastValues.book(of: stream) == nil)
        publish(5, whole: true)
        #expect(hub.lastValues.book(of: stream)?.book.bestBid?.size == 5)
        publish(6)
        publish(4)  // stale
        #expect(hub.lastValues.book(of: stream)?.book.bestBid?.size == 6)
        publish(8, bid: "1.01")  // 7 was skipped: the book stays as it was, and waits
        publish(9, bid: "1.02")
        let held = try #require(hub.lastValues.book(of: stream))
        #expect(held.book.bestBid?.size == 6 && held.book.bids.count == 1)
        publish(9, whole: true, bid: "1.05")
        publish(10, bid: "1.05")
        #expect(hub.lastValues.book(of: stream)?.book.bids == [PriceLevel(price: Price("1.05")!, size: 10)])
        let counts = hub.counters.snapshot()
        #expect(counts.bookUpdatesAwaitingBook == 3 && counts.upstreamGaps == 1 && counts.upstreamStale == 1)
        #expect(counts.bookUpdatesIn == 4)
    }

    /// As in the hub: a book depth and a bar interval nobody follows cost no frames, though their
    /// streams are numbered and cached; a subscriber that comes later starts from the cached book
    /// and gets every change after it, checksums matching; once it leaves, the frames stop again.
    @Test func framesOfADepthOrIntervalNobodyFollowsAreNotBuiltAndALateSubscriberMissesNothing() throws {
        let hub = FanoutHarness(demandDriven: true)
        let symbol = hub.directory.symbol(for: hub.aapl)!
        var simulator = MarketSimulator(instruments: SymbolUniverse.instruments(named: [symbol], seed: 11), seed: 11)
        let update = { (change: BookDelta, whole: Bool) in
            BookFeedUpdate(symbolID: hub.aapl, symbol: symbol, timestamp: .now(), change: change, replacesBook: whole)
        }
        func publishChanges(_ count: Int) {
            for _ in 0..<count {
                let event = simulator.next()
                var trades: [FeedUpdate] = []
                if case .trade = event.body {
                    trades.append(FeedUpdate(symbolID: hub.aapl, symbol: symbol, timestamp: .now(), body: event.body))
                }
                hub.publisher.publishOnLoop(
                    trades, books: event.bookChange.isEmpty ? [] : [update(event.bookChange, false)])
                hub.loop.run()
            }
        }
        hub.publisher.publishOnLoop([], books: [update(simulator.openingBooks[0], true)])
        hub.loop.run()
        publishChanges(200)
        let ticksOnly = hub.counters.snapshot()
        #expect(
            ticksOnly.framesEncoded == ticksOnly.ticksIn, "only the trades' own frames: no book, channel or bar frame")
        #expect(
            hub.lastValues.book(of: hub.directory.bookStream(of: hub.aapl, depth: 10)!)!.seq > 0,
            "numbered and cached all the same")

        let stream = hub.directory.bookStream(of: hub.aapl, depth: 10)!
        let sink = RecordingSink()
        let subscriber = Subscriber(sink: sink)
        let starts = hub.fanout.subscribe(
            subscriber, to: [stream], symbols: [symbol], updateInterval: nil, resumingAfter: [nil], replayLimit: 0)
        var client = ModelBookClient()
        client.start(try #require(starts.first?.book))
        let before = hub.counters.snapshot()
        publishChanges(300)
        try client.receive(sink.takeTexts(), depth: 10)
        let after = hub.counters.snapshot()
        #expect(client.checksumsVerified > 100 && client.gapTotal == 0 && client.booksReplaced == 0)
        #expect(client.books["AAPL"]!.seq == hub.lastValues.book(of: stream)!.seq)
        // Depth 10's frames and the trades' own, nothing for depths 25 and 100 or the bars.
        #expect(
            after.framesEncoded - before.framesEncoded == UInt64(client.checksumsVerified)
                + (after.ticksIn - before.ticksIn))

        _ = hub.fanout.unsubscribe(subscriber, from: [stream])
        let left = hub.counters.snapshot()
        publishChanges(100)
        let end = hub.counters.snapshot()
        #expect(end.framesEncoded - left.framesEncoded == end.ticksIn - left.ticksIn)
    }
}
