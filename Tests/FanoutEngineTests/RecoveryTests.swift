@testable import FanoutEngine
import FeedModel
import Testing

/// Recovery: a reconnecting client names the last seq it holds, and the history replays what it
/// missed, ending exactly where the ring takes over.
@Suite struct RecoveryTests {
    private let aapl: Symbol = "AAPL"

    private func tick(_ seq: UInt64) -> Tick {
        Tick(
            symbol: aapl, seq: seq, timestamp: Timestamp(nanosecondsSinceEpoch: seq),
            body: .trade(Trade(price: Price("1.00")!, size: Int64(seq))))
    }

    @Test func theHistoryKeepsTheLastUpdatesAndKnowsWhenSomeAreGone() {
        var history = SymbolHistory(depth: 4)
        for seq: UInt64 in 1...3 { history.append(tick(seq)) }
        #expect(history.updates(after: 0, latest: 3, limit: .max)?.map(\.seq) == [1, 2, 3])  // nothing lost yet
        for seq: UInt64 in 4...10 { history.append(tick(seq)) }
        #expect(history.updates(after: 6, latest: 10, limit: .max)?.map(\.seq) == [7, 8, 9, 10])
        #expect(history.updates(after: 8, latest: 10, limit: .max)?.map(\.seq) == [9, 10])
        #expect(history.updates(after: 10, latest: 10, limit: .max) == [])  // up to date: nothing missed
        #expect(history.updates(after: 5, latest: 10, limit: .max) == nil)  // seq 6 is gone
        #expect(history.updates(after: 11, latest: 10, limit: .max) == nil)  // ahead: another numbering
    }

    /// Seqs come from publishers and `since` from clients: a replay is sized by what the ring holds
    /// and by the limit, never by the distance between two seqs (a gap of 2^53 would have reserved
    /// exabytes, and one past 2^63 trapped converting to `Int`).
    @Test func aReplayAcrossAHugeSeqGapAllocatesOnlyWhatItReturns() {
        var history = SymbolHistory(depth: 4)
        history.append(tick(1))
        history.append(tick(Tick.maxSeq - 1))
        history.append(tick(Tick.maxSeq))
        let missed = history.updates(after: 1, latest: Tick.maxSeq, limit: .max)
        #expect(missed?.map(\.seq) == [Tick.maxSeq - 1, Tick.maxSeq])
        #expect((missed?.capacity ?? 0) < 64)
        #expect(history.updates(after: 1, latest: UInt64.max, limit: .max)?.count == 2, "a latest past every kept seq")
        #expect(history.updates(after: 0, latest: Tick.maxSeq, limit: 2) == nil, "three missed, two allowed")
        #expect(history.updates(after: 0, latest: Tick.maxSeq, limit: 3)?.count == 3)
    }

    @Test func aRepeatedSubscribeWithSinceReadsNothingForSymbolsAlreadySubscribed() {
        let hub = FanoutHarness(historyDepth: 100)
        hub.publish((0..<50).map { hub.update(hub.aapl, "1.\($0 % 10)0") })
        let subscriber = Subscriber(sink: RecordingSink())
        _ = hub.fanout.subscribe(
            subscriber, to: [hub.aapl], symbols: ["AAPL"], updateInterval: nil, resumingAfter: [1], replayLimit: 1000)
        let readBefore = hub.lastValues.startsRead
        for _ in 0..<100 {
            let starts = hub.fanout.subscribe(
                subscriber, to: [hub.aapl], symbols: ["AAPL"], updateInterval: nil,
                resumingAfter: [1], replayLimit: 1000)
            #expect(starts.isEmpty)
        }
        #expect(hub.lastValues.startsRead == readBefore, "no snapshot or replay read for a symbol already subscribed")
    }

    @Test func theCacheReplaysWithinTheLimitAndSnapshotsPastIt() {
        let cache = LastValueCache(historyDepth: 8)
        let msft: Symbol = "MSFT"
        let (a, m) = (SymbolID(0), SymbolID(1))
        cache.apply((UInt64(1)...6).map { (a, tick($0)) })
        cache.apply(
            (UInt64(1)...6).map { seq in (m, Tick(symbol: msft, seq: seq, timestamp: .now(), body: tick(seq).body)) })
        let starts = cache.starts(of: [a, m], resumingAfter: [2, 3], replayLimit: 5)
        #expect(starts[0].0?.seq == 6 && starts[0].1?.map(\.seq) == [3, 4, 5, 6])
        #expect(starts[1].0?.seq == 6 && starts[1].1 == nil, "MSFT's 3 updates would pass the limit of 5")
        let fresh = cache.starts(of: [a, SymbolID(7)], resumingAfter: [nil, 0], replayLimit: 100)
        #expect(fresh[0].1 == nil && fresh[0].0?.seq == 6)
        #expect(fresh[1].0 == nil && fresh[1].1 == [], "a symbol with no updates: at seq 0 nothing is missed")
    }

    @Test func withoutHistoryOnlyAnUpToDateClientRecovers() {
        let cache = LastValueCache()
        cache.apply((UInt64(1)...3).map { (SymbolID(0), tick($0)) })
        let starts = cache.starts(of: [SymbolID(0), SymbolID(0)], resumingAfter: [3, 2], replayLimit: 100)
        #expect(starts[0].1 == [] && starts[1].1 == nil)
    }

    @Test func aResumedSubscriptionGetsTheMissedUpdatesThenLiveOnesWithoutGapOrDuplicate() {
        let hub = FanoutHarness(historyDepth: 100)
        let first = hub.subscribedClient(to: [hub.aapl])
        hub.publish((0..<5).map { hub.update(hub.aapl, "1.0\($0)") })
        #expect(first.sink.texts.count == 5)
        hub.fanout.remove(first.subscriber)  // the client goes away holding seq 5

        // Published while it is away; the last two are in the ring, not yet drained, when it returns.
        hub.publish((0..<3).map { hub.update(hub.aapl, "1.1\($0)") })
        hub.publisher.publishOnLoop([hub.update(hub.aapl, "1.20"), hub.update(hub.aapl, "1.21")])
        let sink = RecordingSink()
        let starts = hub.fanout.subscribe(
            Subscriber(sink: sink), to: [hub.aapl], symbols: ["AAPL"], updateInterval: nil,
            resumingAfter: [5], replayLimit: 1000)
        #expect(starts.count == 1 && starts[0].snapshot.seq == 10)
        #expect(starts[0].replay?.map(\.seq) == [6, 7, 8, 9, 10])
        hub.loop.run()
        #expect(sink.frames.isEmpty, "seqs 9 and 10 still in the ring were replayed; the ring must not send them again")
        hub.publish([hub.update(hub.aapl, "1.30")])
        #expect(sink.texts.count == 1 && sink.texts[0].contains(#""seq":11"#))
    }
}

@Suite struct HistoryMemoryTests {
    /// The history's memory is its depth times this, per symbol: what docs/PROTOCOL.md and
    /// `--history`'s help promise (80 bytes; a symbol's name is shared, not copied, per update).
    @Test func anUpdateKeptInTheHistoryTakesEightyBytes() {
        #expect(MemoryLayout<Tick>.stride <= 80, "a kept update takes \(MemoryLayout<Tick>.stride) bytes")
    }
}
