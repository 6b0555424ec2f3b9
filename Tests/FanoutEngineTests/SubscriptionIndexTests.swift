@testable import FanoutEngine
import FeedModel
import NIOCore
import Testing

@Suite struct SubscriptionIndexTests {
    @Test func matchesASetModelUnderRandomChurn() {
        var index = SubscriptionIndex()
        let subscribers = (0..<20).map { _ in Subscriber(sink: RecordingSink()) }
        var model = Set<[Int]>()  // [subscriber, symbol]
        var generator = SeededGenerator(seed: 11)
        for _ in 0..<20_000 {
            let s = Int(generator.next() % 20)
            let symbol = Int(generator.next() % 30)
            let id = SymbolID(UInt32(symbol))
            switch generator.next() % 10 {
            case 0..<5:
                #expect(
                    (index.add(subscribers[s], to: id, lastSentSeq: 0) != nil) == model.insert([s, symbol]).inserted)
            case 5:
                // Stale marks must be dropped with the subscription (checked by the invariants).
                if let subscription = subscribers[s].subscriptions[id] { subscribers[s].markStale(subscription) }
            case 6..<9:
                #expect(index.remove(subscribers[s], from: id) == (model.remove([s, symbol]) != nil))
            default:
                let expected = model.filter { $0[0] == s }.count
                #expect(index.removeAll(subscribers[s]) == expected)
                model = model.filter { $0[0] != s }
            }
            index.checkInvariants()
        }
        for symbol in 0..<30 {
            let actual = Set(index.subscriptions(of: SymbolID(UInt32(symbol))).map { ObjectIdentifier($0.subscriber) })
            let expected = Set(model.filter { $0[1] == symbol }.map { ObjectIdentifier(subscribers[$0[0]]) })
            #expect(actual == expected)
        }
        #expect(index.subscriptionCount == model.count)
    }
}

/// What a closing connection leaves behind: nothing.
@Suite struct SubscriberLifetimeTests {
    /// A connection that closes while its socket is full (updates owed, in its stale list) must free
    /// its subscriber: the stale list held the subscriptions, which hold the subscriber, and the
    /// subscriber (with its sink, the connection's writer) lived on forever. Found by the fan-out
    /// state fuzzer (Fuzz/Sources/FuzzFanoutState).
    @Test func aSlowSubscriberRemovedWithUpdatesOwedIsFreed() {
        let hub = FanoutHarness()
        weak var gone: Subscriber?
        weak var goneSink: RecordingSink?
        do {
            let (subscriber, sink) = hub.subscribedClient(to: [hub.aapl, hub.msft])
            sink.isWritable = false
            hub.publish([hub.update(hub.aapl, "1.00"), hub.update(hub.msft, "2.00")])
            #expect(subscriber.staleCount == 2)
            hub.fanout.remove(subscriber)
            gone = subscriber
            goneSink = sink
        }
        // The loop's owed check lets go of it at its next look (it owes nothing once removed).
        hub.loop.advanceTime(by: DrainLimits().owedCheckInterval)
        #expect(gone == nil && goneSink == nil, "the subscriber and its sink outlived their connection")
    }
}
