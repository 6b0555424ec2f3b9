@testable import FanoutEngine
import FeedModel
import NIOCore
import NIOEmbedded
import Testing
import Foundation

@Suite struct LoopFanoutTests {
    @Test func deliversOneSharedFramePerTickToEverySubscriberAndFlushesOncePerBatch() throws {
        let hub = FanoutHarness()
        let sinks = (0..<3).map { _ in RecordingSink() }
        let subscribers = sinks.map { Subscriber(sink: $0) }
        for subscriber in subscribers { hub.subscribe(subscriber, to: [hub.aapl]) }
        hub.publish([hub.update(hub.aapl, "1.00"), hub.update(hub.msft, "2.00")])
        // Encode once: every subscriber got the very same bytes (same storage), not a copy.
        let addresses = sinks.map { sink in sink.frames[0].withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) }
        }
        #expect(Set(addresses).count == 1)

        // Two updates for a subscriber in one drain reach it as one write (corked), and one flush.
        hub.publish([hub.update(hub.aapl, "1.01"), hub.update(hub.msft, "2.01"), hub.update(hub.aapl, "1.02")])
        for sink in sinks {
            #expect(sink.frames.count == 3 && sink.writes == 2 && sink.flushes == 2)
            #expect(
                sink.texts[0].contains(#""symbol":"AAPL","seq":1,"#) && sink.texts[1].contains(#""seq":2"#)
                    && sink.texts[2].contains(#""seq":3"#))
        }
        let counters = hub.counters.snapshot()
        #expect(counters.framesEncoded == 5 && counters.deliveries == 9 && counters.flushes == 6 && counters.drops == 0)
    }

    @Test func pacingDefersABusyLoopsDrainSoSeveralBatchesShareOneWrite() {
        let hub = FanoutHarness(pacing: DrainPacing(maxDelay: .milliseconds(20)))
        let sink = RecordingSink()
        hub.subscribe(Subscriber(sink: sink), to: [hub.aapl])
        // A quiet loop (its last drain took microseconds) drains at once.
        hub.publish([hub.update(hub.aapl, "1.00")])
        #expect(sink.frames.count == 1 && sink.flushes == 1)

        // A busy one (its last drain took 5 ms) waits that long, and the batches published meanwhile join in.
        hub.fanout.lastDrainDuration = .milliseconds(5)
        for bid in ["1.01", "1.02", "1.03"] { hub.publish([hub.update(hub.aapl, bid)]) }
        #expect(sink.frames.count == 1)
        hub.loop.advanceTime(by: .milliseconds(4))
        #expect(sink.frames.count == 1)
        hub.loop.advanceTime(by: .milliseconds(1))
        #expect(sink.frames.count == 4 && sink.flushes == 2)  // three updates, one flush
        #expect(sink.texts.suffix(3).map { $0.contains(#""bid":"1.03""#) } == [false, false, true])
    }

    @Test func pacingIsBoundedByTheMaximumDelay() {
        let pacing = DrainPacing(maxDelay: .milliseconds(2))
        #expect(pacing.delay(afterDrainTaking: .microseconds(20)) == nil)  // too short for a timer
        #expect(pacing.delay(afterDrainTaking: .microseconds(700)) == .microseconds(700))
        #expect(pacing.delay(afterDrainTaking: .milliseconds(50)) == .milliseconds(2))
        #expect(DrainPacing.immediate.delay(afterDrainTaking: .seconds(1)) == nil)
    }

    @Test func snapshotFloorSkipsUpdatesTheSnapshotAlreadyCovers() {
        let hub = FanoutHarness()
        // Published (cache updated, ring written) but not yet drained when the subscriber arrives.
        hub.publisher.publishOnLoop([hub.update(hub.aapl, "1.00"), hub.update(hub.aapl, "1.01")])
        let sink = RecordingSink()
        let snapshots = hub.subscribe(Subscriber(sink: sink), to: [hub.aapl])
        #expect(snapshots.map(\.seq) == [2])
        hub.loop.run()
        #expect(sink.frames.isEmpty)  // seq 1 and 2 are in the snapshot
        hub.publish([hub.update(hub.aapl, "1.02")])
        #expect(sink.texts.count == 1 && sink.texts[0].contains(#""seq":3"#))
    }

    @Test func unsubscribeAndRemoveStopDelivery() {
        let hub = FanoutHarness()
        let (subscriber, sink) = hub.subscribedClient(to: [hub.aapl, hub.msft])
        #expect(hub.counters.snapshot().subscriptions == 2)
        #expect(hub.fanout.unsubscribe(subscriber, from: [hub.aapl]) == 1)
        hub.publish([hub.update(hub.aapl, "1.00"), hub.update(hub.msft, "2.00")])
        #expect(sink.texts.count == 1 && sink.texts[0].contains("MSFT"))
        hub.fanout.remove(subscriber)
        hub.publish([hub.update(hub.msft, "2.01")])
        #expect(sink.texts.count == 1)
        #expect(hub.counters.snapshot().subscriptions == 0)
    }

    @Test func aLappedConsumerResyncsEverySubscriptionFromTheLastValueCache() {
        let hub = FanoutHarness(ringBytes: 4096)  // ~28 frames of ~140 bytes
        let sink = RecordingSink()
        let stalled = RecordingSink()
        let single = RecordingSink()
        let subscriber = Subscriber(sink: sink)
        let stalledSubscriber = Subscriber(sink: stalled)
        hub.subscribe(subscriber, to: [hub.aapl, hub.msft])
        hub.subscribe(stalledSubscriber, to: [hub.aapl])
        hub.subscribe(Subscriber(sink: single), to: [hub.aapl])
        stalled.isWritable = false
        // Publish far more than the ring holds before the consumer gets to run.
        hub.publisher.publishOnLoop([hub.update(hub.msft, "2.00")])
        for i in 0..<100 { hub.publisher.publishOnLoop([hub.update(hub.aapl, "1.\(i)")]) }
        hub.loop.run()
        #expect(hub.counters.snapshot().ringLaps == 1)
        #expect(hub.fanout.lappedCount == 1)
        // The writable subscriber got each symbol's latest value once, with the real seq; the ring's
        // surviving records at or below it were not sent again.
        #expect(sink.texts.count == 2)
        #expect(sink.texts.contains { $0.hasPrefix(#"{"type":"conflated","symbol":"AAPL","seq":100,"#) })
        #expect(sink.texts.contains { $0.hasPrefix(#"{"type":"conflated","symbol":"MSFT","seq":1,"#) })
        #expect(subscriber.dropped == 99)
        // The unwritable one owes its latest value until it drains.
        #expect(stalled.frames.isEmpty && stalledSubscriber.staleCount == 1)
        stalled.isWritable = true
        hub.fanout.catchUp(stalledSubscriber)
        #expect(stalled.texts.count == 1 && stalled.texts[0].contains(#""seq":100"#))
        #expect(stalledSubscriber.dropped == 99)
        // Conflation frames are shared too: each subscriber that got just that frame got the same bytes.
        let addresses = [single, stalled].map { s in
            s.frames.first { String(buffer: $0).contains("AAPL") }!.withUnsafeReadableBytes {
                UInt(bitPattern: $0.baseAddress)
            }
        }
        #expect(addresses[0] == addresses[1])
        hub.fanout.checkInvariants()
    }

    /// The contract of docs/PROTOCOL.md "Slow clients", against a model client: under any pattern of
    /// writability (including laps of a tiny ring), every subscriber sees strictly rising seqs, the
    /// sum of the gaps it sees equals its `dropped` count, and once the feed is quiet and it drains,
    /// it holds exactly the last-value cache's state for every symbol it follows.
    /// Half the schedules end with the sockets told they drained (the session's catch-up); the
    /// others end silently, with no event and no further tick, and the loop's owed check settles them.
    @Test(arguments: [1 << 16, 4096], [false, true])
    func randomBackpressureKeepsTheContract(ringBytes: Int, endsSilently: Bool) throws {
        let hub = FanoutHarness(ringBytes: ringBytes)
        let symbols = [hub.aapl, hub.msft]
        let sinks = (0..<6).map { _ in RecordingSink() }
        let subscribers = sinks.map { Subscriber(sink: $0) }
        var clients = sinks.map { _ in ModelClient() }
        for (n, subscriber) in subscribers.enumerated() {
            for snapshot in hub.subscribe(subscriber, to: symbols) { clients[n].snapshot(snapshot) }
        }
        var generator = SeededGenerator(seed: UInt64(ringBytes) &+ (endsSilently ? 1 : 0))
        for step in 0..<(ringBytes == 4096 ? 400 : 1_500) {
            for (n, sink) in sinks.enumerated() where generator.next() % 8 == 0 {
                let wasWritable = sink.isWritable
                sink.isWritable.toggle()
                if !wasWritable { hub.fanout.catchUp(subscribers[n]) }  // what the session does
            }
            let count = Int(generator.next() % (ringBytes == 4096 ? 60 : 4)) + 1
            for _ in 0..<count {
                let id = symbols[Int(generator.next() % 2)]
                hub.publisher.publishOnLoop([hub.update(id, "1.\(step % 100)")])
            }
            hub.loop.run()
            for (n, sink) in sinks.enumerated() { try clients[n].receive(sink.takeTexts()) }
        }
        // The feed goes quiet.
        for (n, sink) in sinks.enumerated() where !sink.isWritable {
            if endsSilently {
                sink.becomeWritableSilently()
            } else {
                sink.isWritable = true
                hub.fanout.catchUp(subscribers[n])
            }
        }
        hub.loop.advanceTime(by: DrainLimits().owedCheckInterval)
        for (n, sink) in sinks.enumerated() {
            try clients[n].receive(sink.takeTexts())
            #expect(clients[n].gapTotal == subscribers[n].dropped)
            #expect(subscribers[n].staleCount == 0)
            for id in symbols {
                let cached = try #require(hub.lastValues.snapshot(of: id))
                #expect(clients[n].state[cached.symbol.name] == ModelClient.State(cached))
            }
        }
        if ringBytes == 4096 { #expect(hub.counters.snapshot().ringLaps > 0) }
        #expect(hub.counters.snapshot().drops == subscribers.reduce(0) { $0 + $1.dropped })
        hub.fanout.checkInvariants()
    }

    /// Issue 13, defect 3: an ingest batch may hold 65,535 ticks, ~10 MB of records against an 8 MiB
    /// ring. Published whole before any consumer was woken, it lapped every reader. Here a batch of
    /// ~4.5 rings' worth goes to a consumer drained inline: every update arrives, no lap, no drop.
    @Test func aBatchLargerThanTheRingIsPublishedInSlicesThatLapNobody() {
        let hub = FanoutHarness(drainingInline: true)  // 64 KiB ring: 16 updates per wake
        let (subscriber, sink) = hub.subscribedClient(to: [hub.aapl, hub.msft])
        let batch = (0..<2_000).map { hub.update($0 % 2 == 0 ? hub.aapl : hub.msft, "1.\($0 % 100)") }
        hub.publisher.publishOnLoop(batch)
        #expect(hub.counters.snapshot().ringLaps == 0)
        #expect(sink.texts.count == 2_000 && subscriber.dropped == 0)
        #expect(sink.texts.last!.hasPrefix(#"{"type":"quote","symbol":"MSFT","seq":1000,"#))
    }

    @Test func wakesAreCoalesced() {
        let hub = FanoutHarness()
        hub.subscribe(Subscriber(sink: RecordingSink()), to: [hub.aapl])
        for i in 0..<5 { hub.publisher.publishOnLoop([hub.update(hub.aapl, "1.\(i)")]) }
        hub.loop.run()
        #expect(hub.counters.snapshot().drains == 1)
    }
}
