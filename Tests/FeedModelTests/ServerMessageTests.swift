import FeedModel
import Foundation
import NIOCore
import Testing

@Suite struct ServerMessageTests {
    let aapl = Symbol(stringLiteral: "AAPL")
    let ts = Timestamp(nanosecondsSinceEpoch: 1_732_000_000_123_456_789)

    @Test func quoteUpdateHasTheDocumentedShape() {
        let quote = Quote(bid: Price("189.1200")!, ask: Price("189.1300")!, bidSize: 300, askSize: 500)
        let text = ServerMessage.update(Tick(symbol: aapl, seq: 12, timestamp: ts, body: .quote(quote))).jsonText
        #expect(
            text
                == #"{"type":"quote","symbol":"AAPL","seq":12,"ts":1732000000123456789,"bid":"189.1200","ask":"189.1300","bidSize":300,"askSize":500}"#
        )
    }

    @Test func tradeUpdateHasTheDocumentedShape() {
        let trade = Trade(price: Price("189.1300")!, size: 100)
        let text = ServerMessage.update(Tick(symbol: aapl, seq: 13, timestamp: ts, body: .trade(trade))).jsonText
        #expect(
            text == #"{"type":"trade","symbol":"AAPL","seq":13,"ts":1732000000123456789,"price":"189.1300","size":100}"#
        )
    }

    @Test func everyMessageIsValidJSONWithTypeFirst() throws {
        var snapshot = SymbolSnapshot(symbol: aapl)
        snapshot.apply(
            Tick(
                symbol: aapl, seq: 1, timestamp: ts,
                body: .quote(Quote(bid: Price("1.00")!, ask: Price("1.01")!, bidSize: 1, askSize: 2))))
        snapshot.apply(Tick(symbol: aapl, seq: 2, timestamp: ts, body: .trade(Trade(price: Price("1.01")!, size: 5))))
        let messages: [ServerMessage] = [
            .welcome(.init(heartbeatMs: 1000, maxSymbols: 10, feed: "sim", serverVersion: "1")),
            .ack(id: 1, op: .subscribe, symbols: ["AAPL", "MSFT"]),
            .error(
                ProtocolError(id: nil, code: .badJSON, message: "quote \" backslash \\ newline \n tab \t nul \u{0}")),
            .symbols(id: 3, symbols: []),
            .pong(id: 4, timestamp: ts),
            .heartbeat(timestamp: ts),
            .snapshot(snapshot),
            .conflated(snapshot),
            .stats(id: 9, counters: [("delivered", 5), ("dropped", 0)]),
        ]
        for message in messages {
            let text = message.jsonText
            #expect(text.hasPrefix(#"{"type":""#))
            let object = try #require(
                try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "\(text)")
            #expect(object["type"] is String)
        }
        let error = try JSONSerialization.jsonObject(with: Data(messages[2].jsonText.utf8)) as! [String: Any]
        #expect(error["message"] as? String == "quote \" backslash \\ newline \n tab \t nul \u{0}")
        #expect(error["id"] is NSNull)
        let snap = try JSONSerialization.jsonObject(with: Data(messages[6].jsonText.utf8)) as! [String: Any]
        #expect(snap["last"] as? String == "1.01" && snap["bid"] as? String == "1.00" && snap["seq"] as? Int == 2)
        #expect(snap["open"] as? String == "1.01")
        // A conflated value is the whole state, like a snapshot, under its own type.
        #expect(
            messages[7].jsonText
                == messages[6].jsonText.replacingOccurrences(of: #""type":"snapshot""#, with: #""type":"conflated""#))
    }

    @Test func accessTokenFieldsAndErrorsNameWhatTheyConcern() {
        #expect(
            ServerMessage.authenticated(id: 6, expiresAt: 1_796_174_968_000).jsonText
                == #"{"type":"ack","id":6,"op":"auth","tokenExpiresAt":1796174968000}"#)
        let open = ServerMessage.welcome(.init(heartbeatMs: 0, maxSymbols: 10, feed: "sim", serverVersion: "1"))
            .jsonText
        #expect(!open.contains("tokenExpiresAt"), "no auth: no expiry field")
        let authed = ServerMessage.welcome(
            .init(heartbeatMs: 0, maxSymbols: 10, feed: "sim", serverVersion: "1", tokenExpiresAt: 42)
        ).jsonText
        #expect(authed.contains(#","tokenExpiresAt":42,"#))
        #expect(
            ServerMessage.error(.notEntitled(["GOOG", "TSLA"], id: 1)).jsonText
                == #"{"type":"error","id":1,"code":"not_entitled","message":"not entitled to: GOOG,TSLA","symbols":["GOOG","TSLA"]}"#
        )
    }

    @Test func aSymbolsPageSaysWhereTheNextOneStarts() {
        #expect(
            ServerMessage.symbols(id: 3, symbols: ["AAPL", "MSFT"], next: "MSFT").jsonText
                == #"{"type":"symbols","id":3,"symbols":["AAPL","MSFT"],"next":"MSFT"}"#)
        #expect(
            ServerMessage.symbols(id: 3, symbols: ["AAPL"]).jsonText == #"{"type":"symbols","id":3,"symbols":["AAPL"]}"#
        )
    }

    @Test func aThrottledSubscribesAckSaysTheIntervalItGot() {
        #expect(
            ServerMessage.ack(
                id: 1, op: .subscribe, symbols: ["AAPL"], updateInterval: UpdateInterval(milliseconds: 333)
            ).jsonText
                == #"{"type":"ack","id":1,"op":"subscribe","symbols":["AAPL"],"updateIntervalMs":333}"#)
        #expect(
            ServerMessage.ack(id: 1, op: .subscribe, symbols: ["AAPL"]).jsonText
                == #"{"type":"ack","id":1,"op":"subscribe","symbols":["AAPL"]}"#)
    }

    @Test func recoveryFieldsSayWhatWasRecoveredAndWhichNumbering() {
        #expect(
            ServerMessage.ack(id: 2, op: .subscribe, symbols: ["AAPL", "MSFT"], recovery: .init(notRecovered: []))
                .jsonText
                == #"{"type":"ack","id":2,"op":"subscribe","symbols":["AAPL","MSFT"],"recovered":true}"#)
        #expect(
            ServerMessage.ack(
                id: 2, op: .subscribe, symbols: ["AAPL", "MSFT"], recovery: .init(notRecovered: ["MSFT"])
            ).jsonText
                == #"{"type":"ack","id":2,"op":"subscribe","symbols":["AAPL","MSFT"],"recovered":false,"notRecovered":["MSFT"]}"#
        )
        let epoch = FeedEpoch("1764650000000-000000ab")!
        #expect(
            ServerMessage.snapshot(SymbolSnapshot(symbol: aapl, seq: 7, timestamp: ts), epoch: epoch).jsonText
                .hasSuffix(#""seq":7,"ts":\#(ts.nanosecondsSinceEpoch),"epoch":"1764650000000-000000ab"}"#))
        #expect(
            ServerMessage.welcome(
                .init(heartbeatMs: 0, maxSymbols: 10, feed: "sim", serverVersion: "1", epoch: epoch, history: 500)
            ).jsonText
                .hasSuffix(#""epoch":"1764650000000-000000ab","history":500}"#))
    }

    @Test func openIsTheSessionsFirstTradeAndStaysPut() {
        var snapshot = SymbolSnapshot(symbol: aapl)
        #expect(!snapshot.jsonFieldsText.contains("open"))
        snapshot.apply(
            Tick(
                symbol: aapl, seq: 1, timestamp: ts,
                body: .quote(Quote(bid: Price("1.00")!, ask: Price("1.01")!, bidSize: 1, askSize: 2))))
        #expect(snapshot.open == nil)
        snapshot.apply(Tick(symbol: aapl, seq: 2, timestamp: ts, body: .trade(Trade(price: Price("1.01")!, size: 5))))
        snapshot.apply(Tick(symbol: aapl, seq: 3, timestamp: ts, body: .trade(Trade(price: Price("1.07")!, size: 5))))
        #expect(snapshot.open == Price("1.01"))
        #expect(snapshot.lastTrade?.price == Price("1.07"))
        #expect(
            ServerMessage.snapshot(snapshot).jsonText.hasSuffix(
                #""last":"1.07","lastSize":5,"open":"1.01","high":"1.07","low":"1.01","volume":10,"vwap":"1.04"}"#))
    }

    /// High, low, volume and VWAP follow the session's trades exactly (fixed-point, rounded half
    /// away from zero at the last trade's decimals); the details ride on `snapshot`, not `conflated`.
    @Test func sessionStatisticsAndDetailsAreInTheSnapshot() throws {
        var snapshot = SymbolSnapshot(symbol: aapl)
        for (n, (price, size)) in [("10.00", 100), ("10.05", 300), ("9.99", 1)].enumerated() {
            snapshot.apply(
                Tick(
                    symbol: aapl, seq: UInt64(n + 1), timestamp: ts,
                    body: .trade(Trade(price: Price(price)!, size: Int64(size)))))
        }
        // (1000.00 + 3015.00 + 9.99) / 401 = 10.0374...
        #expect(
            snapshot.session.high == Price("10.05") && snapshot.session.low == Price("9.99")
                && snapshot.session.volume == 401)
        #expect(
            snapshot.session.vwap(scale: 2) == Price("10.04") && snapshot.session.vwap(scale: 4) == Price("10.0374"))
        snapshot.details = InstrumentDetails(
            tickSize: Price("0.01")!, lotSize: 100, currency: "USD", name: "Apple Inc.")
        #expect(
            ServerMessage.snapshot(snapshot).jsonText.hasSuffix(
                #""vwap":"10.04","tickSize":"0.01","lotSize":100,"currency":"USD","name":"Apple Inc."}"#))
        #expect(!ServerMessage.conflated(snapshot).jsonText.contains("tickSize"))
        // A publisher's sizes cannot overflow anything: the volume saturates, the VWAP stays put.
        var huge = SymbolSnapshot(symbol: aapl)
        huge.apply(
            Tick(
                symbol: aapl, seq: 1, timestamp: ts,
                body: .trade(Trade(price: Price(mantissa: .max, scale: 0), size: .max))))
        huge.apply(
            Tick(
                symbol: aapl, seq: 2, timestamp: ts,
                body: .trade(Trade(price: Price(mantissa: .min, scale: 18), size: .max))))
        #expect(huge.session.volume == .max)
        _ = huge.session.vwap(scale: 2)
        // Details out of bounds are refused.
        #expect(InstrumentDetails(tickSize: Price("0")!, lotSize: 1, currency: "USD", name: "x") == nil)
        #expect(InstrumentDetails(tickSize: Price("0.01")!, lotSize: 1, currency: "usd", name: "x") == nil)
        #expect(InstrumentDetails(tickSize: Price("0.01")!, lotSize: 1, currency: "USD", name: "a\nb") == nil)
        #expect(
            InstrumentDetails(
                tickSize: Price("0.01")!, lotSize: 1, currency: "USD", name: String(repeating: "x", count: 65)) == nil)
    }

    /// The examples of docs/PROTOCOL.md, "Candles", byte for byte.
    @Test func candleMessagesHaveTheDocumentedShape() {
        let start = Timestamp(nanosecondsSinceEpoch: 1_764_064_800_000_000_000)
        let bar = Candle(
            start: start, open: Price("188.2000")!, high: Price("188.3100")!, low: Price("188.1500")!,
            close: Price("188.2900")!, volume: 12_400, trades: 37)
        #expect(
            ServerMessage.candle(CandleUpdate(symbol: aapl, interval: .oneMinute, seq: 88, bar: bar, closed: false))
                .jsonText
                == #"{"type":"candle","symbol":"AAPL","interval":"1m","seq":88,"start":1764064800000000000,"open":"188.2000","high":"188.3100","low":"188.1500","close":"188.2900","volume":12400,"trades":37,"closed":false}"#
        )
        var open = bar
        open.start = Timestamp(nanosecondsSinceEpoch: 1_764_064_860_000_000_000)
        let snapshot = CandleSnapshot(symbol: aapl, interval: .oneMinute, seq: 89, closed: [bar], open: open)
        let text = ServerMessage.candles(snapshot).jsonText
        #expect(
            text.hasPrefix(
                #"{"type":"candles","symbol":"AAPL","interval":"1m","seq":89,"bars":[{"start":1764064800000000000,"#))
        #expect(
            text.contains(#""trades":37,"closed":true},{"start":1764064860000000000,"#)
                && text.hasSuffix(#""closed":false}]}"#))
        #expect(
            ServerMessage.ack(id: 1, op: .subscribe, symbols: ["EUR/USD"], patterns: ["EUR/*"]).jsonText
                == #"{"type":"ack","id":1,"op":"subscribe","symbols":["EUR/USD"],"patterns":["EUR/*"]}"#)
        #expect(SymbolPattern("EUR/*")?.matches("EUR/USD") == true && SymbolPattern("*")?.matches("AAPL") == true)
        #expect(SymbolPattern("EUR/*")?.matches("GBP/USD") == false)
        #expect(["E*R", "**", "EUR", "eur/*", "ABCDEFGHIJKLMNOPQ*"].allSatisfy { SymbolPattern($0) == nil })
        #expect(
            ServerMessage.ack(id: 1, op: .subscribe, symbols: ["AAPL"], channel: .candles(.oneMinute)).jsonText
                == #"{"type":"ack","id":1,"op":"subscribe","channel":"candles","interval":"1m","symbols":["AAPL"]}"#)
    }

    /// The examples of docs/PROTOCOL.md, "Order books", byte for byte, checksums included.
    @Test func bookMessagesHaveTheDocumentedShapeAndChecksum() throws {
        func level(_ price: String, _ size: Int64) -> PriceLevel { PriceLevel(price: Price(price)!, size: size) }
        var book = try OrderBook(
            bids: [level("188.2200", 1200), level("188.2100", 3400)], asks: [level("188.2400", 3500)])
        let snapshot = BookSnapshot(
            symbol: aapl, depth: 10, seq: 41, timestamp: Timestamp(nanosecondsSinceEpoch: 1_764_064_800_123_456_789),
            book: book)
        #expect(
            ServerMessage.book(snapshot).jsonText
                == #"{"type":"book","symbol":"AAPL","depth":10,"seq":41,"ts":1764064800123456789,"bids":[["188.2200","1200"],["188.2100","3400"]],"asks":[["188.2400","3500"]],"checksum":1294233952}"#
        )
        let before = book
        try book.apply(BookDelta(bids: [level("188.2200", 0), level("188.2300", 300)]))
        let delta = book.delta(from: before, depth: 10)
        #expect(delta == BookDelta(bids: [level("188.2200", 0), level("188.2300", 300)]))
        let update = BookUpdate(
            symbol: aapl, depth: 10, seq: 42, timestamp: Timestamp(nanosecondsSinceEpoch: 1_764_064_800_123_456_789),
            delta: delta, checksum: book.checksum)
        #expect(
            ServerMessage.bookUpdate(update).jsonText
                == #"{"type":"bookUpdate","symbol":"AAPL","depth":10,"seq":42,"ts":1764064800123456789,"bids":[["188.2200","0"],["188.2300","300"]],"asks":[],"checksum":3130502982}"#
        )
        // A snapshot sends only its depth's levels, and an ack names the channel it is about.
        let deep = try OrderBook(bids: (1...30).map { level("1.\(String(format: "%02d", $0))", 1) }, asks: [])
        #expect(
            ServerMessage.book(BookSnapshot(symbol: aapl, depth: 25, book: deep)).jsonText.components(
                separatedBy: "],["
            ).count == 25)
        #expect(
            ServerMessage.ack(id: 1, op: .subscribe, symbols: ["AAPL"], channel: .book(depth: 25)).jsonText
                == #"{"type":"ack","id":1,"op":"subscribe","channel":"book","depth":25,"symbols":["AAPL"]}"#)
        #expect(
            ServerMessage.ack(id: 1, op: .unsubscribe, symbols: ["AAPL"], channel: .book(depth: nil)).jsonText
                == #"{"type":"ack","id":1,"op":"unsubscribe","channel":"book","symbols":["AAPL"]}"#)
    }
}

extension SymbolSnapshot {
    fileprivate var jsonFieldsText: String { ServerMessage.snapshot(self).jsonText }
}
