import FeedModel
import NATSClient
import NATSTicks
import NIOCore
import Testing

/// The tick contract on NATS: what a publisher sends is what a hub reads, and what it cannot read
/// is refused with a reason.
@Suite struct TickMessagesTests {
    private let epoch = FeedEpoch.starting(at: Timestamp(nanosecondsSinceEpoch: 1_764_650_000_000_000_000), random: 0xA1B2C3D4)
    private let aapl = Symbol("AAPL")

    private func quote(_ seq: UInt64, bid: Int64 = 1_882_200) -> Tick {
        Tick(symbol: aapl, seq: seq, timestamp: Timestamp(nanosecondsSinceEpoch: 1_000 + seq),
             body: .quote(Quote(bid: Price(mantissa: bid, scale: 4), ask: Price(mantissa: bid + 200, scale: 4), bidSize: 100, askSize: 200)))
    }

    private func trade(_ seq: UInt64) -> Tick {
        Tick(symbol: aapl, seq: seq, timestamp: Timestamp(nanosecondsSinceEpoch: 1_000 + seq),
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
        let (decodedEpoch, ticks) = try TickMessages.decode(delivered(message))
        #expect(decodedEpoch == epoch)
        #expect(ticks == [tick], "seq and ts are the publisher's, untouched")
    }

    @Test func aMessageWithoutAValidEpochOrTickBatchIsRefused() {
        var plain = delivered(TickMessages.message(for: quote(1), epoch: epoch, allocator: ByteBufferAllocator()))
        plain.headers = []
        #expect(throws: TickMessages.DecodeError.missingEpoch) { try TickMessages.decode(plain) }
        var badEpoch = plain
        badEpoch.headers = [("Epoch", "has space")]
        #expect(throws: TickMessages.DecodeError.invalidEpoch("has space")) { try TickMessages.decode(badEpoch) }
        let garbage = NATSMessage(subject: "ticks.AAPL", sid: 1, headers: [("Epoch", epoch.rawValue)], payload: ByteBuffer(string: "{\"bid\":1}"))
        #expect(throws: TickMessages.DecodeError.self) { try TickMessages.decode(garbage) }
    }

    @Test func aSnapshotAnswerCarriesEachSymbolsLatestQuoteAndTradeOldestFirst() throws {
        var last = LastTicks()
        last.record(quote(1))
        last.record(trade(2))
        last.record(quote(3, bid: 1_882_400))
        last.record(quote(2, bid: 1))   // older than the kept quote: ignored
        let msft = Tick(symbol: Symbol("MSFT"), seq: 9, timestamp: Timestamp(nanosecondsSinceEpoch: 5), body: trade(9).body)
        last.record(msft)
        #expect(last.symbolCount == 2)
        #expect(last.ticks == [trade(2), quote(3, bid: 1_882_400), msft])
        let answer = TickMessages.snapshotAnswer(last.ticks, epoch: epoch, replyTo: "_INBOX.1.1", allocator: ByteBufferAllocator())
        #expect(answer.subject == "_INBOX.1.1")
        let (decodedEpoch, ticks) = try TickMessages.decode(delivered(answer))
        #expect(decodedEpoch == epoch && ticks == last.ticks)
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
