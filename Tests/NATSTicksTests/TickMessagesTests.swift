import FeedModel
import NATSClient
import NATSTicks
import NIOCore
import Testing

/// The tick contract on NATS: what a publisher sends is what a hub reads, and what it cannot read
/// is refused with a reason.
@Suite struct TickMessagesTests {
    private let epoch = FeedEpoch.starting(
        at: Timestamp(nanosecondsSinceEpoch: 1_764_650_000_000_000_000), random: 0xA1B2C3D4)
    private let aapl = Symbol("AAPL")

    private func quote(_ seq: UInt64, bid: Int64 = 1_882_200) -> Tick {
        Tick(
            symbol: aapl, seq: seq, timestamp: Timestamp(nanosecondsSinceEpoch: 1_000 + seq),
            body: .quote(
                Quote(
                    bid: Price(mantissa: bid, scale: 4), ask: Price(mantissa: bid + 200, scale: 4), bidSize: 100,
                    askSize: 200)))
    }

    private func trade(_ seq: UInt64) -> Tick {
        Tick(
            symbol: aapl, seq: seq, timestamp: Timestamp(nanosecondsSinceEpoch: 1_000 + seq),
            body: .trade(Trade(price: Price(mantissa: 1_882_300, scale: 4), size: 50)))
    }

    /// What the server would deliver for an outgoing message.
    private func delivered(_ message: NATSOutgoingMessage) -> NATSMessage {
        NATSMessage(subject: message.subject, sid: 1, headers: message.headers, payload: message.payload)
    }

    @Test func aTickTravelsOnItsSymbolsSubjectWithSeqTimestampAndEpoch() throws {
        let tick = quote(42)
        let message = TickMessages.message(for: tick, epoch: epoch, allocator: ByteBufferAllocator())
        #expect(message.subject == "ticks.AAPL")
        let (decodedEpoch, batch) = try TickMessages.decode(delivered(message))
        #expect(decodedEpoch == epoch)
        #expect(batch == FeedBatch(ticks: [tick]), "seq and ts are the publisher's, untouched")
    }

    @Test func aMessageWithoutAValidEpochOrTickBatchIsRefused() {
        var plain = delivered(TickMessages.message(for: quote(1), epoch: epoch, allocator: ByteBufferAllocator()))
        plain.headers = []
        #expect(throws: TickMessages.DecodeError.missingEpoch) { try TickMessages.decode(plain) }
        var badEpoch = plain
        badEpoch.headers = [("Epoch", "has space")]
        #expect(throws: TickMessages.DecodeError.invalidEpoch("has space")) { try TickMessages.decode(badEpoch) }
        let garbage = NATSMessage(
            subject: "ticks.AAPL", sid: 1, headers: [("Epoch", epoch.rawValue)],
            payload: ByteBuffer(string: "{\"bid\":1}"))
        #expect(throws: TickMessages.DecodeError.self) { try TickMessages.decode(garbage) }
    }

    @Test func aSnapshotAnswerCarriesEachSymbolsLatestQuoteAndTradeOldestFirst() throws {
        var last = LastTicks()
        last.record(quote(1))
        last.record(trade(2))
        last.record(quote(3, bid: 1_882_400))
        last.record(quote(2, bid: 1))  // older than the kept quote: ignored
        let msft = Tick(
            symbol: Symbol("MSFT"), seq: 9, timestamp: Timestamp(nanosecondsSinceEpoch: 5), body: trade(9).body)
        last.record(msft)
        #expect(last.symbolCount == 2)
        #expect(last.ticks == [trade(2), quote(3, bid: 1_882_400), msft])
        let answer = TickMessages.snapshotAnswer(
            last.ticks, epoch: epoch, replyTo: "_INBOX.1.1", allocator: ByteBufferAllocator())
        #expect(answer.subject == "_INBOX.1.1")
        let (decodedEpoch, batch) = try TickMessages.decode(delivered(answer))
        let ticks = batch.ticks
        #expect(decodedEpoch == epoch && ticks == last.ticks && batch.books.isEmpty)
        // Applied in order, the ticks rebuild the symbol's whole state: quote and last trade.
        var state = SymbolSnapshot(symbol: aapl)
        for tick in ticks where tick.symbol == aapl { state.apply(tick) }
        #expect(state.seq == 3 && state.quote != nil && state.lastTrade != nil)
        last.removeAll()
        #expect(last.ticks.isEmpty)
        // Symbols come in the order first seen (a publisher's universe order: busiest first).
        last.record(msft)
        last.record(quote(4))
        #expect(last.ticks.map(\.symbol.name) == ["MSFT", "AAPL"])
    }

    /// Books travel on `books.<SYMBOL>`; the kept book follows its changes while they follow on,
    /// and an answer carries it whole, numbered with its last seq. A lost change drops the book from
    /// answers (it would be wrong) until a whole book comes.
    @Test func booksTravelOnTheirSubjectAndAnswersCarryThemWholeWhileInStep() throws {
        func level(_ price: String, _ size: Int64) -> PriceLevel { PriceLevel(price: Price(price)!, size: size) }
        let stamp = Timestamp(nanosecondsSinceEpoch: 7)
        let whole = BookRecord(
            symbol: aapl, seq: 1, timestamp: stamp,
            change: BookDelta(bids: [level("1.00", 5), level("0.99", 7)], asks: [level("1.01", 3)]), replacesBook: true)
        let change = BookRecord(symbol: aapl, seq: 2, timestamp: stamp, change: BookDelta(bids: [level("1.00", 0)]))
        let message = TickMessages.message(for: change, epoch: epoch, allocator: ByteBufferAllocator())
        #expect(message.subject == "books.AAPL")
        #expect(try TickMessages.decode(delivered(message)).batch == FeedBatch(books: [change]))

        var last = LastTicks()
        last.record(whole)
        last.record(change)
        #expect(last.bookSeq(of: aapl) == 2)
        let expected = BookRecord(
            symbol: aapl, seq: 2, timestamp: stamp,
            change: BookDelta(bids: [level("0.99", 7)], asks: [level("1.01", 3)]),
            replacesBook: true)
        #expect(last.wholeBooks(at: stamp) == [expected])
        last.record(quote(1))
        let answer = TickMessages.snapshotAnswer(
            last.ticks, books: last.wholeBooks(at: stamp), epoch: epoch, replyTo: "_INBOX.2",
            allocator: ByteBufferAllocator())
        #expect(try TickMessages.decode(delivered(answer)).batch == FeedBatch(ticks: [quote(1)], books: [expected]))
        // Seq 3 lost: the book is out of step and left out, until a whole book comes.
        last.record(BookRecord(symbol: aapl, seq: 4, timestamp: stamp, change: BookDelta(asks: [level("1.02", 1)])))
        #expect(last.bookSeq(of: aapl) == nil && last.wholeBooks(at: stamp).isEmpty)
        last.record(
            BookRecord(
                symbol: aapl, seq: 9, timestamp: stamp, change: BookDelta(bids: [level("1.00", 1)]), replacesBook: true)
        )
        #expect(last.bookSeq(of: aapl) == 9 && last.wholeBooks(at: stamp).count == 1)
        // An answer stays under the server's payload limit: books past it are left out.
        let many = (0..<2_000).map { n in
            BookRecord(
                symbol: Symbol("S\(n)")!, seq: 1, timestamp: stamp,
                change: BookDelta(bids: (10...49).map { level("1.\($0)", 1) }), replacesBook: true)
        }
        let capped = TickMessages.snapshotAnswer(
            [], books: many, epoch: epoch, replyTo: "_INBOX.3", allocator: ByteBufferAllocator())
        #expect(capped.payload.readableBytes <= TickMessages.maxAnswerBytes)
        let kept = try TickMessages.decode(delivered(capped)).batch.books
        #expect(kept.count > 1_000 && kept.count < many.count && kept == Array(many.prefix(kept.count)))
    }

    @Test func aHubFollowsANewerEpochAndIgnoresAnOlderOne() {
        let before = FeedEpoch.starting(at: Timestamp(nanosecondsSinceEpoch: 1_764_650_000_000_000_000), random: 1)
        let after = FeedEpoch.starting(at: Timestamp(nanosecondsSinceEpoch: 1_764_650_000_001_000_000), random: 0)
        #expect(after.isNewer(than: before) && !before.isNewer(than: after))
        #expect(!before.isNewer(than: before))
        // Same millisecond: an order all nodes agree on, whichever they saw first.
        let twin = FeedEpoch.starting(at: Timestamp(nanosecondsSinceEpoch: 1_764_650_000_000_000_000), random: 2)
        #expect(twin.isNewer(than: before) != before.isNewer(than: twin))
        #expect(after.startMilliseconds == 1_764_650_000_001)
    }
}
