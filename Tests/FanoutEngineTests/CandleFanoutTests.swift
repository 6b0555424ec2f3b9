@testable import FanoutEngine
import FeedModel
import Foundation
import NIOCore
import Testing

/// Bars through the real publisher, ring and loop consumer (docs/PROTOCOL.md, "Candles").
@Suite struct CandleFanoutTests {
    private func trade(
        _ hub: FanoutHarness, _ price: String, _ size: Int64, atSecond second: UInt64, plus nanos: UInt64 = 0
    ) -> FeedUpdate {
        FeedUpdate(
            symbolID: hub.aapl, symbol: hub.directory.symbol(for: hub.aapl)!,
            timestamp: Timestamp(nanosecondsSinceEpoch: 1_764_000_000_000_000_000 + second * 1_000_000_000 + nanos),
            body: .trade(Trade(price: Price(price)!, size: size)))
    }

    private func objects(_ texts: [String]) throws -> [[String: Any]] {
        try texts.map { try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
    }

    @Test func tradesMakeBarsThatCloseOnTheNextIntervalOrOnTheClockAndHistoryHasThem() throws {
        let hub = FanoutHarness()
        let stream = hub.directory.candleStream(of: hub.aapl, interval: .oneSecond)!
        let (_, sink) = hub.subscribedClient(to: [stream])
        hub.publish([
            trade(hub, "10.00", 100, atSecond: 0), trade(hub, "10.50", 50, atSecond: 0, plus: 5),
            trade(hub, "9.90", 10, atSecond: 0, plus: 9),
        ])
        var sent = try objects(sink.takeTexts())
        #expect(
            sent.count == 3 && sent.allSatisfy { $0["type"] as? String == "candle" && $0["closed"] as? Bool == false })
        #expect(sent.map { $0["seq"] as? Int } == [1, 2, 3])
        #expect(
            sent.last!["open"] as? String == "10.00" && sent.last!["high"] as? String == "10.50"
                && sent.last!["low"] as? String == "9.90" && sent.last!["close"] as? String == "9.90"
                && sent.last!["volume"] as? Int == 160 && sent.last!["trades"] as? Int == 3)
        // A trade of the next second closes the bar: it is sent once more, closed, then the new one.
        hub.publish([trade(hub, "9.95", 5, atSecond: 1)])
        sent = try objects(sink.takeTexts())
        #expect(sent.map { $0["closed"] as? Bool } == [true, false])
        #expect(sent[0]["close"] as? String == "9.90" && sent[1]["open"] as? String == "9.95")
        // No trade follows: the clock closes the bar once its second (and the grace) is over.
        hub.publisher.closeEndedBars(now: Timestamp(nanosecondsSinceEpoch: 1_764_000_002_100_000_000))
        hub.loop.run()
        #expect(try objects(sink.takeTexts()).isEmpty, "within the grace: still open")
        hub.publisher.closeEndedBars(now: Timestamp(nanosecondsSinceEpoch: 1_764_000_002_300_000_000))
        hub.loop.run()
        sent = try objects(sink.takeTexts())
        #expect(sent.count == 1 && sent[0]["closed"] as? Bool == true && sent[0]["seq"] as? Int == 6)
        // A late trade, stamped in a closed second, counts in the next bar: a closed bar never changes.
        hub.publish([trade(hub, "11.00", 7, atSecond: 1, plus: 500)])
        let history = hub.publisher.candles.history(of: hub.aapl, symbol: "AAPL", interval: .oneSecond, limit: 10)
        #expect(history.seq == 7 && history.closed.count == 2 && history.open?.close == Price("11.00"))
        #expect(history.closed.map(\.close) == [Price("9.90")!, Price("9.95")!])
        #expect(history.open!.start.nanosecondsSinceEpoch == 1_764_000_002_000_000_000)
        // Every interval has its bars; a minute bar is still open.
        let minute = hub.publisher.candles.history(of: hub.aapl, symbol: "AAPL", interval: .oneMinute, limit: 10)
        #expect(minute.closed.isEmpty && minute.open?.trades == 5 && minute.open?.volume == 172)
    }

    @Test func aSlowSubscriberGetsTheLastClosedAndTheOpenBarInPlaceOfWhatItMissed() throws {
        let hub = FanoutHarness()
        let stream = hub.directory.candleStream(of: hub.aapl, interval: .oneSecond)!
        let (subscriber, sink) = hub.subscribedClient(to: [stream])
        hub.publish([trade(hub, "10.00", 1, atSecond: 0)])
        _ = sink.takeTexts()
        sink.isWritable = false
        hub.publish((0..<20).map { trade(hub, "10.\(10 + $0)", 1, atSecond: UInt64(1 + $0 / 10)) })
        sink.isWritable = true
        hub.fanout.catchUp(subscriber)
        let sent = try objects(sink.takeTexts())
        #expect(sent.count == 1 && sent[0]["type"] as? String == "candles")
        let bars = try #require(sent[0]["bars"] as? [[String: Any]])
        #expect(bars.map { $0["closed"] as? Bool } == [true, false])
        #expect(bars[0]["close"] as? String == "10.19" && bars[1]["close"] as? String == "10.29")
        #expect(sent[0]["seq"] as? Int == 23)  // the first open, 20 opens, 2 closes
        #expect(subscriber.dropped == 21 && subscriber.conflated == 1)
        hub.fanout.checkInvariants()
    }
}
