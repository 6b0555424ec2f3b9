@testable import FanoutEngine
import FeedModel
import NIOCore
import Testing

/// How a loop behaves when it cannot keep up (`DrainLimits`): it yields to socket I/O after its
/// budget, and conflates what it reaches too late instead of sending it.
@Suite struct OverloadTests {
    @Test func recordsReachedLaterThanTheLagLimitAreConflatedToOneLatestValuePerSymbolWithTheGapCounted() throws {
        let hub = FanoutHarness(limits: DrainLimits(maxLag: .milliseconds(5)), manualDrains: true)
        let (subscriber, sink) = hub.subscribedClient(to: [hub.aapl, hub.msft])
        // Six ticks published at t = 0, reached by the loop at t = 10 ms: twice the lag limit.
        hub.publisher.publishOnLoop(
            (1...4).map { hub.update(hub.aapl, "1.0\($0)") } + (1...2).map { hub.update(hub.msft, "2.0\($0)") })
        #expect(hub.drainSignal?.signals == 1)
        hub.loop.advanceTime(by: .milliseconds(10))
        hub.fanout.drainSignalled()

        let texts = sink.takeTexts()
        #expect(texts.count == 2, "one latest value per symbol, not six updates")
        #expect(texts.allSatisfy { $0.hasPrefix(#"{"type":"conflated""#) })
        #expect(
            texts.contains { $0.contains(#""symbol":"AAPL","seq":4,"#) }
                && texts.contains { $0.contains(#""symbol":"MSFT","seq":2,"#) })
        #expect(sink.flushes == 1)
        #expect(subscriber.dropped == 3 + 1, "the seq gaps the client sees are what is counted")
        let counters = hub.counters.snapshot()
        #expect(counters.lateRecords == 6 && counters.drops == 4 && counters.conflated == 2)

        // A tick the loop reaches in time is sent as itself again.
        hub.publisher.publishOnLoop([hub.update(hub.aapl, "1.05")])
        hub.loop.advanceTime(by: .milliseconds(1))
        hub.fanout.drainSignalled()
        let fresh = sink.takeTexts()
        #expect(fresh.count == 1 && fresh[0].hasPrefix(#"{"type":"quote","symbol":"AAPL","seq":5,"#))
        hub.fanout.checkInvariants()
    }

    @Test func aLateRunThenFreshRecordsSendTheLatestValueFirstSoNoGapIsHidden() throws {
        let hub = FanoutHarness(limits: DrainLimits(maxLag: .milliseconds(5)), manualDrains: true)
        let (subscriber, sink) = hub.subscribedClient(to: [hub.aapl])
        hub.publisher.publishOnLoop([hub.update(hub.aapl, "1.01"), hub.update(hub.aapl, "1.02")])  // late
        hub.loop.advanceTime(by: .milliseconds(8))
        hub.publisher.publishOnLoop([hub.update(hub.aapl, "1.03")])  // fresh, published at 8 ms
        hub.loop.advanceTime(by: .milliseconds(1))
        hub.fanout.drainSignalled()
        let texts = sink.takeTexts()
        // The cache holds seq 3 when the late run is settled, so the client gets seq 3 once, as a
        // latest value (gap 0 -> 3 counted as 2 dropped); the fresh record is then not sent again.
        #expect(texts.count == 1 && texts[0].contains(#""type":"conflated","symbol":"AAPL","seq":3,"#))
        #expect(subscriber.dropped == 2)
    }

    @Test func aThrottledSubscriptionIsHeldNotSentWhenItsRecordsAreLate() throws {
        let hub = FanoutHarness(limits: DrainLimits(maxLag: .milliseconds(5)), manualDrains: true)
        let (subscriber, sink) = hub.subscribedClient(to: [hub.aapl], every: UpdateInterval(milliseconds: 100))
        hub.publisher.publishOnLoop([hub.update(hub.aapl, "1.01"), hub.update(hub.aapl, "1.02")])
        hub.loop.advanceTime(by: .milliseconds(10))
        hub.fanout.drainSignalled()
        #expect(sink.frames.isEmpty, "a throttled subscription waits for its boundary even when its loop is late")
        #expect(hub.fanout.heldCount == 1)
        hub.loop.advanceTime(by: .milliseconds(100))
        let texts = sink.takeTexts()
        #expect(texts.count == 1 && texts[0].contains(#""seq":2,"#))
        #expect(subscriber.throttled == 1 && subscriber.dropped == 0)
    }

    @Test func aDrainYieldsAfterItsRecordLimitAndSignalsItselfToContinue() throws {
        let hub = FanoutHarness(limits: DrainLimits(maxRecords: 2), manualDrains: true)
        let sink = RecordingSink()
        hub.subscribe(Subscriber(sink: sink), to: [hub.aapl])
        hub.publisher.publishOnLoop((1...5).map { hub.update(hub.aapl, "1.0\($0)") })
        #expect(hub.drainSignal?.signals == 1)
        hub.fanout.drainSignalled()
        #expect(sink.frames.count == 2 && sink.flushes == 1, "what it read is flushed before it yields")
        #expect(hub.drainSignal?.signals == 2, "it asks to continue after the loop's pending I/O")
        hub.fanout.drainSignalled()
        hub.fanout.drainSignalled()
        #expect(sink.frames.count == 5 && sink.flushes == 3)
        #expect(hub.drainSignal?.signals == 3, "the last drain found the ring empty and did not signal again")
        #expect(hub.counters.snapshot().drops == 0)
    }

    @Test func publishesWhileADrainIsPendingCostOneSignal() {
        let hub = FanoutHarness(manualDrains: true)
        hub.subscribe(Subscriber(sink: RecordingSink()), to: [hub.aapl])
        for bid in ["1.01", "1.02", "1.03"] { hub.publisher.publishOnLoop([hub.update(hub.aapl, bid)]) }
        #expect(hub.drainSignal?.signals == 1)
        hub.fanout.drainSignalled()
        hub.publisher.publishOnLoop([hub.update(hub.aapl, "1.04")])
        #expect(hub.drainSignal?.signals == 2)
    }
}
