@testable import FanoutEngine
import FeedModel
import Testing

/// A numbering source (NATS, an ingest publisher that sends seqs): the hub keeps its seqs, so every
/// hub fed the same updates numbers them alike; its gaps reach clients as gaps, and what is stale
/// (repeated, out of order) is dropped, all counted.
@Suite struct UpstreamSeqTests {
    private func update(_ hub: FanoutHarness, _ seq: UInt64?, _ bid: String = "1.00") -> FeedUpdate {
        var update = hub.update(hub.aapl, bid)
        update.upstreamSeq = seq
        return update
    }

    @Test func theSourcesSeqsAreKeptItsGapsForwardedAndStaleUpdatesDropped() {
        let hub = FanoutHarness()
        // A hub joining mid-stream: seq 500 is where it starts, not a gap.
        hub.publish([update(hub, 500)])
        let client = hub.subscribedClient(to: [hub.aapl])
        hub.publish([
            update(hub, 501), update(hub, 504, "1.04"), update(hub, 503), update(hub, 504), update(hub, 505, "1.05"),
        ])
        #expect(
            client.sink.texts.map {
                $0.contains(#""seq":501"#) || $0.contains(#""seq":504"#) || $0.contains(#""seq":505"#)
            } == [true, true, true])
        #expect(client.sink.texts.count == 3)
        #expect(
            client.subscriber.upstream == 2 && client.subscriber.dropped == 0,
            "the connection's own count of the feed's gaps: what its client saw as jumps")
        let counters = hub.counters.snapshot()
        #expect(counters.upstreamGaps == 2 && counters.upstreamStale == 2 && counters.ticksIn == 4)
        #expect(
            hub.lastValues.snapshot(of: hub.aapl)?.seq == 505
                && hub.lastValues.snapshot(of: hub.aapl)?.quote?.bid == Price("1.05"))
        // Updates the source does not number are numbered on from there.
        hub.publish([update(hub, nil)])
        #expect(hub.lastValues.snapshot(of: hub.aapl)?.seq == 506)
    }

    @Test func aNewEpochForgetsTheOldNumberingAndItsValues() {
        let hub = FanoutHarness()
        hub.publish([update(hub, 900, "9.00")])
        let before = hub.publisher.epoch
        let restarted = FeedEpoch.starting(
            at: Timestamp(nanosecondsSinceEpoch: Timestamp.now().nanosecondsSinceEpoch + 1_000_000_000))
        hub.loop.execute { hub.publisher.beginEpoch(restarted) }
        hub.loop.run()
        #expect(hub.publisher.epoch == restarted && restarted.isNewer(than: before))
        #expect(
            hub.lastValues.snapshot(of: hub.aapl) == nil,
            "a value numbered under the old epoch is not served under the new one")
        // The new numbering starts low, and is neither stale nor a gap.
        hub.publish([update(hub, 1, "1.00"), update(hub, 2, "1.01")])
        #expect(hub.lastValues.snapshot(of: hub.aapl)?.seq == 2)
        let counters = hub.counters.snapshot()
        #expect(counters.upstreamStale == 0 && counters.upstreamGaps == 0)
    }

    /// A publisher controls seqs: the largest ones must not trap the publisher's arithmetic (next
    /// seq, gaps), and the history must not size a replay by a seq distance.
    @Test func seqsAboveTheLimitAreRefusedAndTheLargestLegalOnesDoNotOverflow() {
        let hub = FanoutHarness()
        hub.publish([update(hub, UInt64.max), update(hub, Tick.maxSeq + 1)])
        #expect(hub.lastValues.snapshot(of: hub.aapl) == nil && hub.counters.snapshot().upstreamRefused == 2)
        // Two huge jumps in one slice, then one the hub numbers.
        hub.publish([update(hub, 1), update(hub, Tick.maxSeq / 2), update(hub, Tick.maxSeq), update(hub, nil)])
        let counters = hub.counters.snapshot()
        #expect(counters.upstreamGaps == Tick.maxSeq - 3, "every skipped seq counted, none wrapped")
        #expect(hub.lastValues.snapshot(of: hub.aapl)?.seq == Tick.maxSeq + 1)
        #expect(counters.ticksIn == 4)
    }
}
