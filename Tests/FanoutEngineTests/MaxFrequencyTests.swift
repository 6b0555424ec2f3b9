@testable import FanoutEngine
import FeedModel
import NIOCore
import NIOEmbedded
import Testing
import Foundation

/// Per-subscription maximum frequency (`maxFrequency`, `HeldUpdates`), on an embedded loop whose
/// clock the tests move by hand.
@Suite struct MaxFrequencyTests {
    private let every100ms = UpdateInterval(milliseconds: 100)

    @Test func theIntervalIsTheRequestedOneRoundedUpToTwoSignificantDigits() {
        #expect(UpdateInterval(maxFrequency: 4)?.milliseconds == 250)
        #expect(UpdateInterval(maxFrequency: 3)?.milliseconds == 340)
        #expect(UpdateInterval(maxFrequency: 60)?.milliseconds == 17)
        #expect(UpdateInterval(maxFrequency: 1000)?.milliseconds == 1)
        #expect(UpdateInterval(maxFrequency: 0.1)?.milliseconds == 10_000)
        #expect(UpdateInterval(maxFrequency: 0.01)?.milliseconds == 100_000)
        for bad in [0, -1, 0.001, 1001, .nan, .infinity] { #expect(UpdateInterval(maxFrequency: bad) == nil) }
    }

    /// Issue 13, defect 5: every distinct `maxFrequency` made its own group and release timer on the
    /// loop, so clients could make a loop run thousands. Now: never more often than asked, at most
    /// ~10% less often (1 ms longer below 10 ms), and 370 distinct intervals over the whole range.
    @Test func anyFrequenciesMapToAFewHundredIntervalsNeverFasterThanAsked() throws {
        var intervals = Set<Int64>()
        var generator = SeededGenerator(seed: 5)
        for _ in 0..<200_000 {
            // Log-uniform over 0.01...1000 per second.
            let frequency = 0.01 * pow(10, 5 * Double(generator.next() % 1_000_001) / 1_000_000)
            let interval = try #require(UpdateInterval(maxFrequency: frequency)).milliseconds
            let exact = 1000 / frequency
            #expect(Double(interval) >= exact * (1 - 1e-9))
            #expect(Double(interval) <= max(exact * 1.1, exact + 1))  // whole milliseconds below 10 ms
            intervals.insert(interval)
        }
        #expect(intervals.count <= 370)
    }

    @Test func releasesAreAlignedToTheLoopsClock() {
        let interval = UpdateInterval(milliseconds: 250)
        #expect(HeldUpdates.boundary(after: .uptimeNanoseconds(0), every: interval) == .uptimeNanoseconds(250_000_000))
        #expect(
            HeldUpdates.boundary(after: .uptimeNanoseconds(249_999_999), every: interval)
                == .uptimeNanoseconds(250_000_000))
        #expect(
            HeldUpdates.boundary(after: .uptimeNanoseconds(250_000_000), every: interval)
                == .uptimeNanoseconds(500_000_000))
    }

    /// Issue 13, defect 1: a subscription sent its latest value while held (`forget`), then held
    /// again, left two live entries, one of them in the group of its old interval.
    @Test func aSubscriptionHeldAgainAfterBeingSentEarlyIsReleasedOnceAtItsOwnBoundary() {
        var held = HeldUpdates()
        let subscription = Subscription(
            subscriber: Subscriber(sink: RecordingSink()), symbolID: SymbolID(0), position: 0, lastSentSeq: 0)
        let fast = UpdateInterval(milliseconds: 10), slow = UpdateInterval(milliseconds: 1_000)
        let now = NIODeadline.uptimeNanoseconds(1)

        #expect(held.hold(subscription, interval: slow, now: now) != nil)
        held.forget(subscription)
        #expect(held.hold(subscription, interval: slow, now: now) == nil)  // the group's release is still scheduled
        held.checkInvariants()
        #expect(held.heldCount == 1)

        held.forget(subscription)
        #expect(held.hold(subscription, interval: fast, now: now) != nil)
        held.checkInvariants()
        #expect(held.release(slow).isEmpty, "its entry under the old interval is dead")
        #expect(held.release(fast).map { ObjectIdentifier($0) } == [ObjectIdentifier(subscription)])
        #expect(held.heldCount == 0 && !subscription.isHeld)
        held.checkInvariants()
    }

    @Test func forgottenEntriesAreCompactedWhateverIsReleasedMeanwhile() {
        var held = HeldUpdates()
        let subscriber = Subscriber(sink: RecordingSink())
        let subscriptions = (0..<300).map {
            Subscription(subscriber: subscriber, symbolID: SymbolID(UInt32($0)), position: 0, lastSentSeq: 0)
        }
        let a = UpdateInterval(milliseconds: 100), b = UpdateInterval(milliseconds: 200)
        let now = NIODeadline.uptimeNanoseconds(1)
        for subscription in subscriptions[..<150] { _ = held.hold(subscription, interval: a, now: now) }
        for subscription in subscriptions[150...] { _ = held.hold(subscription, interval: b, now: now) }
        for subscription in subscriptions[150...] { held.forget(subscription) }  // dead, but fewer than the live
        held.checkInvariants()
        #expect(held.release(a).count == 150)  // now only dead entries are left
        held.checkInvariants()
        #expect(held.release(b).isEmpty && held.heldCount == 0)
    }

    @Test func heldUpdatesAreReleasedAtTheBoundaryAsTheLatestValueWithTheSkipsCountedAsThrottled() {
        let hub = FanoutHarness()
        let (subscriber, sink) = hub.subscribedClient(to: [hub.aapl], every: every100ms)
        hub.publish([hub.update(hub.aapl, "1.00"), hub.update(hub.aapl, "1.01")])
        hub.publish([hub.update(hub.aapl, "1.02")])
        #expect(sink.frames.isEmpty && hub.fanout.heldCount == 1)
        hub.loop.advanceTime(by: .milliseconds(99))
        #expect(sink.frames.isEmpty)
        hub.loop.advanceTime(by: .milliseconds(1))
        #expect(sink.texts.count == 1 && sink.flushes == 1)
        #expect(
            sink.texts[0].hasPrefix(#"{"type":"conflated","symbol":"AAPL","seq":3,"#)
                && sink.texts[0].contains(#""bid":"1.02""#))
        // Seq 0 (snapshot) → 3: two updates skipped, asked for; not drops, not backpressure conflation.
        #expect(subscriber.throttled == 2 && subscriber.dropped == 0 && subscriber.conflated == 0)
        let counters = hub.counters.snapshot()
        #expect(counters.throttled == 2 && counters.drops == 0 && counters.conflated == 0 && counters.deliveries == 1)

        // A quiet interval sends nothing; the next update waits for the next boundary.
        hub.loop.advanceTime(by: .milliseconds(150))
        #expect(sink.frames.count == 1)
        hub.publish([hub.update(hub.aapl, "1.03")])
        hub.loop.advanceTime(by: .milliseconds(49))
        #expect(sink.frames.count == 1)
        hub.loop.advanceTime(by: .milliseconds(1))
        #expect(sink.texts.count == 2 && sink.texts[1].contains(#""seq":4"#) && subscriber.throttled == 2)
        #expect(hub.fanout.heldCount == 0)
        hub.fanout.checkInvariants()
    }

    @Test func aConnectionsThrottledSymbolsShareOneWritePerBoundaryAndOthersStayLive() {
        let hub = FanoutHarness()
        let throttled = RecordingSink()
        let live = RecordingSink()
        hub.subscribe(Subscriber(sink: throttled), to: [hub.aapl, hub.msft], every: every100ms)
        hub.subscribe(Subscriber(sink: live), to: [hub.aapl, hub.msft])
        hub.publish([hub.update(hub.aapl, "1.00")])
        hub.loop.advanceTime(by: .milliseconds(30))
        hub.publish([hub.update(hub.msft, "2.00"), hub.update(hub.aapl, "1.01")])
        #expect(live.texts.count == 3 && live.flushes == 2)
        #expect(throttled.frames.isEmpty)
        hub.loop.advanceTime(by: .milliseconds(70))
        #expect(throttled.texts.count == 2 && throttled.flushes == 1)
        #expect(Set(throttled.texts.map { $0.contains("AAPL") ? "AAPL" : "MSFT" }) == ["AAPL", "MSFT"])
        // The released frames are the shared latest-value frames: built once per (symbol, seq).
        #expect(hub.counters.snapshot().throttled == 1)
    }

    @Test func resubscribingChangesTheFrequencyOfSymbolsAlreadySubscribed() {
        let hub = FanoutHarness()
        let (subscriber, sink) = hub.subscribedClient(to: [hub.aapl], every: every100ms)
        hub.publish([hub.update(hub.aapl, "1.00")])
        #expect(sink.frames.isEmpty)
        #expect(hub.subscribe(subscriber, to: [hub.aapl]).isEmpty)  // no second snapshot
        // What was held still comes at its boundary; from now on every update goes out at once.
        hub.loop.advanceTime(by: .milliseconds(100))
        #expect(sink.texts.count == 1)
        hub.publish([hub.update(hub.aapl, "1.01")])
        #expect(sink.texts.count == 2 && sink.texts[1].hasPrefix(#"{"type":"quote","symbol":"AAPL","seq":2,"#))
        hub.fanout.checkInvariants()
    }

    @Test func unsubscribingOrClosingWhileHeldSendsNothingAndChurnCannotGrowTheHold() {
        let hub = FanoutHarness()
        let sink = RecordingSink()
        let subscriber = Subscriber(sink: sink)
        // Subscribe, get an update held, unsubscribe: a thousand times within one interval.
        for i in 0..<1_000 {
            hub.subscribe(subscriber, to: [hub.aapl], every: UpdateInterval(milliseconds: 60_000))
            hub.publish([hub.update(hub.aapl, "1.\(i % 100)")])
            #expect(hub.fanout.heldCount == 1)
            hub.fanout.unsubscribe(subscriber, from: [hub.aapl])
            #expect(hub.fanout.heldCount == 0)
            hub.fanout.checkInvariants()
        }
        hub.subscribe(subscriber, to: [hub.msft], every: every100ms)
        hub.publish([hub.update(hub.msft, "2.00")])
        hub.fanout.remove(subscriber)
        hub.loop.advanceTime(by: .seconds(61))
        #expect(sink.frames.isEmpty && hub.fanout.heldCount == 0)
        hub.fanout.checkInvariants()
    }

    @Test func backpressureDuringAHoldHandsTheSymbolToCatchUpAndCountsTheGapAsDropped() {
        let hub = FanoutHarness()
        let (subscriber, sink) = hub.subscribedClient(to: [hub.aapl], every: every100ms)
        hub.publish([hub.update(hub.aapl, "1.00")])
        sink.isWritable = false
        hub.publish([hub.update(hub.aapl, "1.01")])  // skipped by backpressure as well
        hub.loop.advanceTime(by: .milliseconds(100))
        #expect(sink.frames.isEmpty && subscriber.staleCount == 1)
        sink.isWritable = true
        hub.fanout.catchUp(subscriber)
        #expect(sink.texts.count == 1 && sink.texts[0].contains(#""seq":2"#))
        #expect(subscriber.dropped == 1 && subscriber.throttled == 0)
        hub.fanout.checkInvariants()
    }

    /// The contract with a frequency limit, against the model client: under random writability,
    /// intervals and timing, seqs only rise, the gaps a client sees add up to `dropped + throttled`,
    /// every subscriber ends with the latest value of every symbol, and a throttled subscription that
    /// never hit backpressure got at most one message per interval slot. The lapping variants use a
    /// ring of ~28 frames (so resyncs meet held subscriptions) and resubscribe with new intervals
    /// along the way (so subscriptions are held, sent early, and held again under another interval).
    @Test(arguments: [(false, false), (true, false), (false, true), (true, true)])
    func randomTimingKeepsTheContract(withBackpressure: Bool, lappingAndResubscribing: Bool) throws {
        let hub = FanoutHarness(ringBytes: lappingAndResubscribing ? 4096 : 1 << 16)
        let symbols = [hub.aapl, hub.msft]
        let intervals: [UpdateInterval?] = [
            nil, UpdateInterval(milliseconds: 1), UpdateInterval(milliseconds: 7),
            UpdateInterval(milliseconds: 50), every100ms, UpdateInterval(milliseconds: 333),
        ]
        let sinks = intervals.map { _ in RecordingSink() }
        let subscribers = sinks.map { Subscriber(sink: $0) }
        var clients = sinks.map { _ in ModelClient() }
        for (n, subscriber) in subscribers.enumerated() {
            sinks[n].clock = { hub.loop.now }
            for snapshot in hub.subscribe(subscriber, to: symbols, every: intervals[n]) {
                clients[n].snapshot(snapshot)
            }
        }
        var generator = SeededGenerator(seed: (withBackpressure ? 11 : 12) + (lappingAndResubscribing ? 2 : 0))
        var resubscribed = false
        for step in 0..<2_000 {
            if lappingAndResubscribing, generator.next() % 8 == 0 {
                let n = Int(generator.next() % UInt64(subscribers.count))
                let interval = intervals[Int(generator.next() % UInt64(intervals.count))]
                #expect(hub.subscribe(subscribers[n], to: symbols, every: interval).isEmpty)
                resubscribed = resubscribed || interval != intervals[n]
            }
            if withBackpressure {
                for (n, sink) in sinks.enumerated() where generator.next() % 16 == 0 {
                    let wasWritable = sink.isWritable
                    sink.isWritable.toggle()
                    if !wasWritable { hub.fanout.catchUp(subscribers[n]) }
                }
            }
            for _ in 0..<Int(generator.next() % (lappingAndResubscribing ? 40 : 4)) {
                hub.publisher.publishOnLoop([hub.update(symbols[Int(generator.next() % 2)], "1.\(step % 100)")])
            }
            hub.loop.run()
            hub.fanout.checkInvariants()
            hub.loop.advanceTime(by: .milliseconds(Int64(generator.next() % 5)))
            for (n, sink) in sinks.enumerated() { try clients[n].receive(sink.takeTexts()) }
        }
        for (n, sink) in sinks.enumerated() where !sink.isWritable {
            sink.isWritable = true
            hub.fanout.catchUp(subscribers[n])
        }
        hub.loop.advanceTime(by: .seconds(1))  // past every boundary
        for (n, sink) in sinks.enumerated() {
            try clients[n].receive(sink.takeTexts())
            #expect(clients[n].gapTotal == subscribers[n].dropped + subscribers[n].throttled)
            for id in symbols {
                let cached = try #require(hub.lastValues.snapshot(of: id))
                #expect(clients[n].state[cached.symbol.name] == ModelClient.State(cached))
            }
            guard !lappingAndResubscribing else { continue }  // intervals changed along the way
            guard let interval = intervals[n] else {
                #expect(subscribers[n].throttled == 0)
                continue
            }
            #expect(subscribers[n].throttled > 0)
            if !withBackpressure {
                // Two symbols: at most two messages per slot of the interval.
                let slots = sink.writeTimes.map { $0.uptimeNanoseconds / UInt64(interval.nanoseconds) }
                let perSlot = Dictionary(grouping: slots, by: { $0 }).values.map(\.count)
                #expect(perSlot.allSatisfy { $0 <= 2 }, "more than one message per symbol per \(interval)")
            }
        }
        if lappingAndResubscribing { #expect(resubscribed && hub.counters.snapshot().ringLaps > 0) }
        let counters = hub.counters.snapshot()
        #expect(counters.throttled == subscribers.reduce(0) { $0 + $1.throttled })
        #expect(counters.drops == subscribers.reduce(0) { $0 + $1.dropped })
        #expect(hub.fanout.heldCount == 0)
        hub.fanout.checkInvariants()
    }
}
