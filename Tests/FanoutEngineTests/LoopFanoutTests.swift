@testable import FanoutEngine
import FeedModel
import NIOCore
import NIOEmbedded
import Testing
import Foundation

/// The publisher → ring → loop consumer path on an embedded event loop, with recording sinks.
struct FanoutHarness {
    let loop = EmbeddedEventLoop()
    let directory = SymbolDirectory()
    let lastValues: LastValueCache
    let counters = FanoutCounters()
    let publisher: TickPublisher
    let fanout: LoopFanout
    let aapl: SymbolID
    let msft: SymbolID

    /// With `manualDrains`, a published batch only signals (`drainSignal` counts it) and the test
    /// drains when it wants, with the loop's clock where it wants it.
    let drainSignal: CountingDrainSignal?
    /// With `demandDriven`, as in the hub: channel, book and bar frames are built only while
    /// someone follows their kind (`ChannelDemand`); without, always.
    let demand: ChannelDemand?

    /// With `drainingInline`, the consumer is drained in the publishing task, as the hub's loop 0 is.
    init(ringBytes: Int = 1 << 16, pacing: DrainPacing = .immediate, limits: DrainLimits = DrainLimits(), manualDrains: Bool = false,
         drainingInline: Bool = false, historyDepth: Int = 0, demandDriven: Bool = false) {
        lastValues = LastValueCache(historyDepth: historyDepth)
        let ring = BroadcastBuffer(capacity: ringBytes)
        let directory = directory
        demand = demandDriven ? ChannelDemand(kinds: { directory.kinds(of: $0) }) : nil
        publisher = TickPublisher(eventLoop: loop, buffer: ring, directory: directory, lastValues: lastValues, counters: counters,
                                  demand: demand)
        drainSignal = manualDrains ? CountingDrainSignal() : nil
        fanout = LoopFanout(eventLoop: loop, buffer: ring, lastValues: lastValues, counters: counters, limits: limits, pacing: pacing,
                            drainSignal: drainSignal, demand: demand)
        publisher.attach([fanout], drainingInline: drainingInline)
        aapl = directory.register(Symbol(stringLiteral: "AAPL"))!
        msft = directory.register(Symbol(stringLiteral: "MSFT"))!
        loop.run()
    }

    /// Registers `count` more symbols (S0, S1, ...).
    func register(count: Int) -> [SymbolID] {
        (0..<count).map { directory.register(Symbol("S\($0)")!)! }
    }

    func update(_ id: SymbolID, _ bid: String) -> FeedUpdate {
        FeedUpdate(symbolID: id, symbol: directory.symbol(for: id)!, timestamp: .now(),
                   body: .quote(Quote(bid: Price(bid)!, ask: Price(bid)!, bidSize: 1, askSize: 1)))
    }

    /// Subscribes to `ids` by their directory names; returns the snapshots to send first.
    @discardableResult
    func subscribe(_ subscriber: Subscriber, to ids: [SymbolID], every interval: UpdateInterval? = nil) -> [SymbolSnapshot] {
        fanout.subscribe(subscriber, to: ids, symbols: ids.map { directory.symbol(for: $0)! }, updateInterval: interval)
    }

    /// A new subscriber to `ids`, with the sink that records what it is sent.
    func subscribedClient(to ids: [SymbolID], every interval: UpdateInterval? = nil) -> (subscriber: Subscriber, sink: RecordingSink) {
        let sink = RecordingSink()
        let subscriber = Subscriber(sink: sink)
        subscribe(subscriber, to: ids, every: interval)
        return (subscriber, sink)
    }

    func publish(_ updates: [FeedUpdate]) {
        publisher.publishOnLoop(updates)
        loop.run()  // the consumer's drain
    }
}

/// A drain signal that only counts: the test decides when the signalled drain runs.
final class CountingDrainSignal: DrainSignal, @unchecked Sendable {
    // @unchecked: tests use it from one thread.
    private(set) var signals = 0
    func signal() { signals += 1 }
}

@Suite struct LoopFanoutTests {
    @Test func deliversOneSharedFramePerTickToEverySubscriberAndFlushesOncePerBatch() throws {
        let hub = FanoutHarness()
        let sinks = (0..<3).map { _ in RecordingSink() }
        let subscribers = sinks.map { Subscriber(sink: $0) }
        for subscriber in subscribers { hub.subscribe(subscriber, to: [hub.aapl]) }
        hub.publish([hub.update(hub.aapl, "1.00"), hub.update(hub.msft, "2.00")])
        // Encode once: every subscriber got the very same bytes (same storage), not a copy.
        let addresses = sinks.map { sink in sink.frames[0].withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) } }
        #expect(Set(addresses).count == 1)

        // Two updates for a subscriber in one drain reach it as one write (corked), and one flush.
        hub.publish([hub.update(hub.aapl, "1.01"), hub.update(hub.msft, "2.01"), hub.update(hub.aapl, "1.02")])
        for sink in sinks {
            #expect(sink.frames.count == 3 && sink.writes == 2 && sink.flushes == 2)
            #expect(sink.texts[0].contains(#""symbol":"AAPL","seq":1,"#) && sink.texts[1].contains(#""seq":2"#)
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
        #expect(pacing.delay(afterDrainTaking: .microseconds(20)) == nil)      // too short for a timer
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

    @Test func aSlowSubscriberIsConflatedToTheLatestValueWithTheGapCounted() {
        let hub = FanoutHarness()
        let slow = RecordingSink()
        let fast = RecordingSink()
        let slowSubscriber = Subscriber(sink: slow)
        hub.subscribe(slowSubscriber, to: [hub.aapl, hub.msft])
        hub.subscribe(Subscriber(sink: fast), to: [hub.aapl])
        slow.isWritable = false
        hub.publish([hub.update(hub.aapl, "1.00"), hub.update(hub.msft, "2.00"), hub.update(hub.aapl, "1.01")])
        // Nothing is queued for the slow one; the fast one is untouched.
        #expect(slow.frames.isEmpty && slow.flushes == 0)
        #expect(fast.frames.count == 2)
        #expect(slowSubscriber.staleCount == 2)
        #expect(slowSubscriber.dropped == 0)  // nothing is lost until the client is shown a gap

        slow.isWritable = true
        #expect(hub.fanout.catchUp(slowSubscriber) == 0)
        // One latest value per stale symbol, in the order they went stale, with the real seq.
        #expect(slow.texts.count == 2 && slow.flushes == 1)
        #expect(slow.texts[0].hasPrefix(#"{"type":"conflated","symbol":"AAPL","seq":2,"#) && slow.texts[0].contains(#""bid":"1.01""#))
        #expect(slow.texts[1].hasPrefix(#"{"type":"conflated","symbol":"MSFT","seq":1,"#))
        // AAPL went 0 (snapshot) → 2: one update dropped, and counted as such.
        #expect(slowSubscriber.dropped == 1 && slowSubscriber.conflated == 2 && slowSubscriber.staleCount == 0)
        let counters = hub.counters.snapshot()
        #expect(counters.drops == 1 && counters.conflated == 2)

        // Updates the latest value already covered are not sent again; newer ones flow as usual.
        hub.publish([hub.update(hub.aapl, "1.02")])
        #expect(slow.texts.count == 3 && slow.texts[2].hasPrefix(#"{"type":"quote","symbol":"AAPL","seq":3,"#))
    }

    @Test func catchUpStopsWhenTheSocketFillsAgainAndResumesLater() {
        let hub = FanoutHarness()
        // Enough symbols that the corked latest values spill to the socket before the catch-up ends.
        let ids = hub.register(count: 300)
        let (subscriber, sink) = hub.subscribedClient(to: ids)
        sink.isWritable = false
        hub.publish(ids.map { hub.update($0, "1.00") })
        #expect(subscriber.staleCount == 300)
        sink.isWritable = true
        sink.unwritableAfterFrames = 1  // the first batch handed over fills the socket
        let remaining = hub.fanout.catchUp(subscriber)
        #expect(remaining > 0 && remaining < 300)
        #expect(sink.frames.count == 300 - remaining, "what was corked before the socket filled is still sent")
        let largest = sink.frames.map(\.readableBytes).max()!
        #expect(sink.frames.reduce(0) { $0 + $1.readableBytes } <= CorkedFrames.spillBytes + largest,
                "the fan-out queues at most one cork beyond what the socket took")
        sink.unwritableAfterFrames = nil
        sink.isWritable = true
        #expect(hub.fanout.catchUp(subscriber) == 0)
        #expect(sink.texts.count == 300 && Set(sink.texts.map { $0.prefix(40) }).count == 300)
        #expect(subscriber.dropped == 0)
        hub.fanout.checkInvariants()
    }

    @Test func aStaleSubscriptionThatBecomesWritableGetsTheLatestValueOnTheNextUpdate() {
        let hub = FanoutHarness()
        let (subscriber, sink) = hub.subscribedClient(to: [hub.aapl])
        sink.isWritable = false
        hub.publish([hub.update(hub.aapl, "1.00"), hub.update(hub.aapl, "1.01")])
        sink.isWritable = true  // but no catch-up ran yet
        hub.publish([hub.update(hub.aapl, "1.02")])
        #expect(sink.texts.count == 1 && sink.texts[0].hasPrefix(#"{"type":"conflated","symbol":"AAPL","seq":3,"#))
        #expect(subscriber.dropped == 2 && subscriber.staleCount == 0)
    }

    @Test func aSubscriberThatFillsAndDrainsWithinOneDrainOwesNothingAfterIt() {
        let hub = FanoutHarness()
        let ids = hub.register(count: 300)
        let (subscriber, sink) = hub.subscribedClient(to: ids)
        sink.unwritableAfterFrames = 1  // the first spilled cork fills the buffer...
        sink.writableAgainOnFlush = true  // ...and the drain's flush empties it, with no event
        hub.publish(ids.map { hub.update($0, "1.00") })
        // The updates after the spill were skipped while full; the drain settles them before ending,
        // since no event may come.
        #expect(sink.texts.count == 300)
        let quotes = sink.texts.filter { $0.hasPrefix(#"{"type":"quote""#) }.count
        #expect(quotes > 0 && quotes < 300)
        #expect(sink.texts[quotes...].allSatisfy { $0.hasPrefix(#"{"type":"conflated""#) })
        #expect(subscriber.staleCount == 0 && subscriber.dropped == 0)
    }

    /// Issue 24, item 1: the feed stops while a slow client is full, and its socket drains later with
    /// no writability event (NIO may fold full-then-drained into none) and no further tick. The
    /// loop's owed check must still bring it to the latest value of every symbol, with each skipped
    /// update counted.
    @Test func aSlowSubscriberConvergesAfterTheFeedStopsWithNoEventAndNoNextTick() throws {
        let hub = FanoutHarness()
        let ids = hub.register(count: 50)
        let (subscriber, sink) = hub.subscribedClient(to: ids)
        var client = ModelClient()
        for id in ids { client.snapshot(SymbolSnapshot(symbol: hub.directory.symbol(for: id)!)) }
        sink.unwritableAfterFrames = 30  // the socket fills part-way through the first batch
        for round in 0..<40 {
            hub.publish(ids.map { hub.update($0, "1.\(round)") })
        }
        #expect(subscriber.staleCount == 50)
        // The feed is quiet from here on. The socket drains; nobody is told.
        sink.unwritableAfterFrames = nil
        sink.becomeWritableSilently()
        hub.loop.advanceTime(by: DrainLimits().owedCheckInterval)
        try client.receive(sink.takeTexts())
        #expect(subscriber.staleCount == 0)
        let quotes = sink.texts.filter { $0.hasPrefix(#"{"type":"quote""#) }.count
        #expect(quotes >= 30 && quotes < 50 * 40 && sink.texts.count == quotes + 50)
        for id in ids {
            let cached = try #require(hub.lastValues.snapshot(of: id))
            #expect(client.state[cached.symbol.name] == ModelClient.State(cached), "\(cached.symbol) was left behind")
        }
        // Every update published is either sent as itself, or covered by a latest value and counted.
        #expect(client.gapTotal == subscriber.dropped && subscriber.dropped == UInt64(50 * 40 - quotes - 50))
        #expect(hub.counters.snapshot().owedCheckCatchUps == 1)
        // Nothing is owed, so nothing is checked again.
        hub.fanout.checkInvariants()
        hub.loop.advanceTime(by: .seconds(1))
        #expect(sink.takeTexts().isEmpty && hub.counters.snapshot().owedCheckCatchUps == 1)
    }

    /// The owed check asks the connection, and leaves a full one for a later check.
    @Test func theOwedCheckWaitsForAFullSocketAndLetsGoOfAClosedOne() throws {
        let hub = FanoutHarness()
        let (slow, slowSink) = hub.subscribedClient(to: [hub.aapl])
        let (gone, goneSink) = hub.subscribedClient(to: [hub.msft])
        slowSink.isWritable = false
        goneSink.isWritable = false
        hub.publish([hub.update(hub.aapl, "1.00"), hub.update(hub.msft, "2.00")])
        hub.fanout.remove(gone)
        hub.loop.advanceTime(by: .seconds(1))  // many checks; the socket stays full
        #expect(slowSink.frames.isEmpty && slow.staleCount == 1 && goneSink.frames.isEmpty)
        slowSink.becomeWritableSilently()
        hub.loop.advanceTime(by: DrainLimits().owedCheckInterval)
        #expect(slowSink.texts.count == 1 && slowSink.texts[0].hasPrefix(#"{"type":"conflated","symbol":"AAPL","seq":1,"#))
        #expect(slow.isWritable, "the stored flag follows the connection")
        hub.fanout.checkInvariants()
    }

    @Test func unsubscribingForgetsWhatWasStale() {
        let hub = FanoutHarness()
        let (subscriber, sink) = hub.subscribedClient(to: [hub.aapl, hub.msft])
        sink.isWritable = false
        hub.publish([hub.update(hub.aapl, "1.00"), hub.update(hub.msft, "2.00")])
        hub.fanout.unsubscribe(subscriber, from: [hub.aapl])
        sink.isWritable = true
        hub.fanout.catchUp(subscriber)
        #expect(sink.texts.count == 1 && sink.texts[0].contains("MSFT"))
        hub.fanout.checkInvariants()
    }

    /// Issue 13, defect 5: forgetting a stale symbol searched the stale list, so dropping 1,000 of
    /// them was O(n²). Forgetting is now O(1) with the list compacted as it empties; what is still
    /// owed, and only that, is caught up, oldest first.
    @Test func forgettingManyStaleSymbolsLeavesExactlyTheRestOwed() {
        let hub = FanoutHarness(ringBytes: 1 << 20)
        let ids = hub.register(count: 3_000)
        let (subscriber, sink) = hub.subscribedClient(to: ids)
        sink.isWritable = false
        hub.publish(ids.map { hub.update($0, "1.00") })
        #expect(subscriber.staleCount == 3_000)
        let dropped = ids.enumerated().filter { $0.offset % 3 != 0 }.map(\.element)  // 2,000
        #expect(hub.fanout.unsubscribe(subscriber, from: dropped) == 2_000)
        #expect(subscriber.staleCount == 1_000)
        hub.fanout.checkInvariants()
        sink.isWritable = true
        hub.fanout.catchUp(subscriber)
        let kept = ids.enumerated().filter { $0.offset % 3 == 0 }.map { hub.directory.symbol(for: $0.element)!.name }
        #expect(sink.texts.map { $0.split(separator: "\"")[7] }.map(String.init) == kept)
        #expect(subscriber.staleCount == 0)
        hub.fanout.remove(subscriber)
        hub.fanout.checkInvariants()
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
            s.frames.first { String(buffer: $0).contains("AAPL") }!.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) }
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

/// A client that follows the v1 rules: it applies snapshots, updates and conflated values, and checks
/// that seqs only ever rise, adding up the gaps it is shown.
struct ModelClient {
    struct State: Equatable {
        var seq: UInt64
        var bid: String?
        init(seq: UInt64, bid: String?) { self.seq = seq; self.bid = bid }
        init(_ snapshot: SymbolSnapshot) { self.init(seq: snapshot.seq, bid: snapshot.quote.map { "\($0.bid)" }) }
    }

    var state: [String: State] = [:]
    var gapTotal: UInt64 = 0

    mutating func snapshot(_ snapshot: SymbolSnapshot) {
        state[snapshot.symbol.name] = State(snapshot)
    }

    mutating func receive(_ texts: [String]) throws {
        for text in texts {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
            let symbol = try #require(object["symbol"] as? String)
            let seq = try #require((object["seq"] as? NSNumber)?.uint64Value)
            let previous = try #require(state[symbol])
            #expect(seq > previous.seq, "seq went backwards or repeated: \(text)")
            if object["type"] as? String == "quote" { #expect(seq == previous.seq + 1, "a live update skipped seqs without a conflated value") }
            gapTotal += seq - previous.seq - 1
            state[symbol] = State(seq: seq, bid: object["bid"] as? String ?? previous.bid)
        }
    }
}
