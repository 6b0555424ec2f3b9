@testable import FanoutEngine
import FeedModel
import NIOCore
import NIOEmbedded
import Testing
import Foundation

/// Slow subscribers: conflation to the latest value with the gap counted, catch-up when the socket
/// drains, the owed check when no event comes, and what unsubscribing forgets.
@Suite struct BackpressureTests {
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
        #expect(
            slow.texts[0].hasPrefix(#"{"type":"conflated","symbol":"AAPL","seq":2,"#)
                && slow.texts[0].contains(#""bid":"1.01""#))
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
        #expect(
            sink.frames.reduce(0) { $0 + $1.readableBytes } <= CorkedFrames.spillBytes + largest,
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
        #expect(
            slowSink.texts.count == 1 && slowSink.texts[0].hasPrefix(#"{"type":"conflated","symbol":"AAPL","seq":1,"#))
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
}
