@testable import FanoutEngine
import FeedModel
import NIOCore
import NIOEmbedded
import Testing

/// The publisher → ring → loop consumer path on an embedded event loop, with recording sinks.
struct FanoutHarness {
    let loop = EmbeddedEventLoop()
    let directory = SymbolDirectory()
    let lastValues = LastValueCache()
    let counters = FanoutCounters()
    let publisher: TickPublisher
    let fanout: LoopFanout
    let aapl: SymbolID
    let msft: SymbolID

    init(ringBytes: Int = 1 << 16) {
        let ring = BroadcastBuffer(capacity: ringBytes)
        publisher = TickPublisher(eventLoop: loop, buffer: ring, directory: directory, lastValues: lastValues, counters: counters)
        fanout = LoopFanout(eventLoop: loop, buffer: ring, lastValues: lastValues, counters: counters)
        publisher.attach([fanout])
        aapl = directory.register(Symbol(stringLiteral: "AAPL"))!
        msft = directory.register(Symbol(stringLiteral: "MSFT"))!
        loop.run()
    }

    func update(_ id: SymbolID, _ bid: String) -> FeedUpdate {
        FeedUpdate(symbolID: id, symbol: directory.symbol(for: id)!, timestamp: .now(),
                   body: .quote(Quote(bid: Price(bid)!, ask: Price(bid)!, bidSize: 1, askSize: 1)))
    }

    func publish(_ updates: [FeedUpdate]) {
        publisher.publishOnLoop(updates)
        loop.run()  // the consumer's drain
    }
}

@Suite struct LoopFanoutTests {
    @Test func deliversOneSharedFramePerTickToEverySubscriberAndFlushesOncePerBatch() throws {
        let hub = FanoutHarness()
        let sinks = (0..<3).map { _ in RecordingSink() }
        let subscribers = sinks.map { Subscriber(sink: $0) }
        for subscriber in subscribers { _ = hub.fanout.subscribe(subscriber, to: [hub.aapl], symbols: [Symbol(stringLiteral: "AAPL")]) }
        hub.publish([hub.update(hub.aapl, "1.00"), hub.update(hub.msft, "2.00"), hub.update(hub.aapl, "1.01")])

        for sink in sinks {
            #expect(sink.frames.count == 2)
            #expect(sink.flushes == 1)
            #expect(sink.texts[0].contains(#""symbol":"AAPL","seq":1,"#) && sink.texts[1].contains(#""seq":2"#))
        }
        // Encode once: every subscriber got the very same bytes (same storage), not a copy.
        let addresses = sinks.map { sink in sink.frames[0].withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) } }
        #expect(Set(addresses).count == 1)
        let counters = hub.counters.snapshot()
        #expect(counters.framesEncoded == 3 && counters.deliveries == 6 && counters.flushes == 3 && counters.drops == 0)
    }

    @Test func snapshotFloorSkipsUpdatesTheSnapshotAlreadyCovers() {
        let hub = FanoutHarness()
        // Published (cache updated, ring written) but not yet drained when the subscriber arrives.
        hub.publisher.publishOnLoop([hub.update(hub.aapl, "1.00"), hub.update(hub.aapl, "1.01")])
        let sink = RecordingSink()
        let snapshots = hub.fanout.subscribe(Subscriber(sink: sink), to: [hub.aapl], symbols: [Symbol(stringLiteral: "AAPL")])
        #expect(snapshots.map(\.seq) == [2])
        hub.loop.run()
        #expect(sink.frames.isEmpty)  // seq 1 and 2 are in the snapshot
        hub.publish([hub.update(hub.aapl, "1.02")])
        #expect(sink.texts.count == 1 && sink.texts[0].contains(#""seq":3"#))
    }

    @Test func unwritableSubscribersAreSkippedCountedAndMarkedStale() {
        let hub = FanoutHarness()
        let slow = RecordingSink()
        let fast = RecordingSink()
        let slowSubscriber = Subscriber(sink: slow)
        _ = hub.fanout.subscribe(slowSubscriber, to: [hub.aapl, hub.msft], symbols: [Symbol(stringLiteral: "AAPL"), Symbol(stringLiteral: "MSFT")])
        _ = hub.fanout.subscribe(Subscriber(sink: fast), to: [hub.aapl], symbols: [Symbol(stringLiteral: "AAPL")])
        slow.isWritable = false
        hub.publish([hub.update(hub.aapl, "1.00"), hub.update(hub.msft, "2.00"), hub.update(hub.aapl, "1.01")])
        #expect(slow.frames.isEmpty && slow.flushes == 0)
        #expect(fast.frames.count == 2)
        #expect(slowSubscriber.dropped == 3)
        #expect(slowSubscriber.staleSymbols == [hub.aapl, hub.msft])
        #expect(hub.counters.snapshot().drops == 3)
    }

    @Test func unsubscribeAndRemoveStopDelivery() {
        let hub = FanoutHarness()
        let sink = RecordingSink()
        let subscriber = Subscriber(sink: sink)
        _ = hub.fanout.subscribe(subscriber, to: [hub.aapl, hub.msft], symbols: [Symbol(stringLiteral: "AAPL"), Symbol(stringLiteral: "MSFT")])
        #expect(hub.counters.snapshot().subscriptions == 2)
        #expect(hub.fanout.unsubscribe(subscriber, from: [hub.aapl]) == 1)
        hub.publish([hub.update(hub.aapl, "1.00"), hub.update(hub.msft, "2.00")])
        #expect(sink.texts.count == 1 && sink.texts[0].contains("MSFT"))
        hub.fanout.remove(subscriber)
        hub.publish([hub.update(hub.msft, "2.01")])
        #expect(sink.texts.count == 1)
        #expect(hub.counters.snapshot().subscriptions == 0)
    }

    @Test func aLappedConsumerCountsTheLapAndCarriesOnFromTheNewest() {
        let hub = FanoutHarness(ringBytes: 4096)  // ~28 frames of ~140 bytes
        let sink = RecordingSink()
        _ = hub.fanout.subscribe(Subscriber(sink: sink), to: [hub.aapl], symbols: [Symbol(stringLiteral: "AAPL")])
        var lapsSeen = 0
        hub.fanout.onLapped = { lapsSeen += 1 }
        // Publish far more than the ring holds before the consumer gets to run.
        for i in 0..<100 { hub.publisher.publishOnLoop([hub.update(hub.aapl, "1.\(i)")]) }
        hub.loop.run()
        #expect(lapsSeen == 1)
        #expect(hub.counters.snapshot().ringLaps == 1)
        #expect(sink.texts.count == 1 && sink.texts[0].contains(#""seq":100"#))  // only the newest survived
        #expect(hub.lastValues.snapshot(of: hub.aapl)?.seq == 100)
    }

    @Test func wakesAreCoalesced() {
        let hub = FanoutHarness()
        _ = hub.fanout.subscribe(Subscriber(sink: RecordingSink()), to: [hub.aapl], symbols: [Symbol(stringLiteral: "AAPL")])
        for i in 0..<5 { hub.publisher.publishOnLoop([hub.update(hub.aapl, "1.\(i)")]) }
        hub.loop.run()
        #expect(hub.counters.snapshot().drains == 1)
    }
}
