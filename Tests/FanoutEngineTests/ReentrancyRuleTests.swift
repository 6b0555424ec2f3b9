@testable import FanoutEngine
import FeedModel
import NIOCore
import Testing

/// The re-entrancy rule (`LoopFanout`): what a write's callback may do during a drain, and the one
/// thing it may not.
@Suite struct ReentrancyRuleTests {
    /// A sink that calls back into the fan-out from its write, as a closing channel's handlers do.
    final class CallingBackSink: FrameSink {
        var onWrite: () -> Void = {}
        var writes = 0
        func attach(_ subscriber: Subscriber) {}
        func write(_ frames: ByteBuffer) {
            writes += 1
            onWrite()
        }
        func flush() {}
        var connectionIsWritable: Bool { true }
    }

    @Test func aWriteMayRemoveSubscribersMidDrainAndTheRestAreStillServed() {
        let harness = FanoutHarness()
        let sinks = (0..<3).map { _ in CallingBackSink() }
        let subscribers = sinks.map { Subscriber(sink: $0) }
        for subscriber in subscribers { harness.subscribe(subscriber, to: [harness.aapl]) }
        // The first write closes its own connection and the second one's, as a failed write's handlers could.
        sinks[0].onWrite = {
            harness.fanout.remove(subscribers[0])
            harness.fanout.remove(subscribers[1])
        }
        harness.publish([harness.update(harness.aapl, "1.00")])
        #expect(
            sinks.map(\.writes) == [1, 0, 1], "the removed subscriber's queued write lapses; the others are written")
        #expect(harness.fanout.subscriberCount(of: harness.aapl) == 1)
        harness.fanout.checkInvariants()
    }

    #if DEBUG
    @Test func aWriteThatDrainsAgainTrapsInDebugBuilds() async {
        await #expect(processExitsWith: .failure) {
            let harness = FanoutHarness()
            let sink = CallingBackSink()
            harness.subscribe(Subscriber(sink: sink), to: [harness.aapl])
            sink.onWrite = { harness.fanout.drain() }
            harness.publish([harness.update(harness.aapl, "1.00")])
        }
    }
    #endif
}
