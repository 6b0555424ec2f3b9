import FeedModel
import Testing

@Suite struct ClientMessageTests {
    private func parse(_ text: String, limits: ClientMessage.Limits = .init()) -> Result<ClientMessage, ProtocolError> {
        ClientMessage.parse(Array(text.utf8), limits: limits)
    }

    @Test func parsesEveryOp() throws {
        #expect(
            try parse(#"{"op":"subscribe","id":1,"symbols":["AAPL","MSFT"]}"#).get()
                == .subscribe(id: 1, symbols: ["AAPL", "MSFT"]))
        #expect(
            try parse(#"{"op":"unsubscribe","id":2,"symbols":["AAPL"]}"#).get()
                == .unsubscribe(id: 2, symbols: ["AAPL"]))
        #expect(try parse(#"{"op":"list","id":3}"#).get() == .list(id: 3))
        #expect(try parse(#"{"op":"list","id":3,"after":"MSFT"}"#).get() == .list(id: 3, after: "MSFT"))
        #expect(try parse(#"{"op":"ping","id":4}"#).get() == .ping(id: 4))
        #expect(try parse(#"{"id":5,"op":"stats"}"#).get() == .stats(id: 5))
        #expect(try parse(#"{"op":"ping"}"#).get() == .ping(id: nil))
        #expect(try parse(#" {"op":"ping","id":null,"extra":[1,2]} "#).get() == .ping(id: nil))
        #expect(try parse(#"{"op":"auth","id":6,"token":"eyJ.x.y"}"#).get() == .auth(id: 6, token: "eyJ.x.y"))
    }

    @Test func subscribeAndUnsubscribeTakeABookChannelAndDepth() throws {
        #expect(
            try parse(#"{"op":"subscribe","id":1,"channel":"book","symbols":["AAPL"],"depth":25}"#).get()
                == .subscribe(id: 1, symbols: ["AAPL"], channel: .book(depth: 25)))
        #expect(
            try parse(#"{"op":"subscribe","id":1,"channel":"book","symbols":["AAPL"]}"#).get()
                == .subscribe(id: 1, symbols: ["AAPL"], channel: .book(depth: 10)), "depth 10 when absent")
        #expect(
            try parse(#"{"op":"unsubscribe","id":2,"channel":"book","symbols":["AAPL"]}"#).get()
                == .unsubscribe(id: 2, symbols: ["AAPL"], channel: .book(depth: nil)), "every depth when absent")
        #expect(
            try parse(#"{"op":"unsubscribe","id":2,"channel":"book","symbols":["AAPL"],"depth":100}"#).get()
                == .unsubscribe(id: 2, symbols: ["AAPL"], channel: .book(depth: 100)))
        let refusals = [
            (#"{"op":"subscribe","id":3,"channel":"book","symbols":["AAPL"],"depth":7}"#, "depth"),
            (#"{"op":"subscribe","id":3,"channel":"book","symbols":["AAPL"],"depth":"10"}"#, "depth"),
            (#"{"op":"subscribe","id":3,"symbols":["AAPL"],"depth":10}"#, "depth"),
            (#"{"op":"subscribe","id":3,"channel":"tape","symbols":["AAPL"]}"#, "channel"),
            (#"{"op":"subscribe","id":3,"channel":7,"symbols":["AAPL"]}"#, "channel"),
            (#"{"op":"subscribe","id":3,"channel":"book","symbols":["AAPL"],"since":{"AAPL":4}}"#, "since"),
        ]
        for (text, word) in refusals {
            switch parse(text) {
            case .success(let message): Issue.record("\(text) parsed as \(message)")
            case .failure(let error):
                #expect(error.code == .invalidRequest && error.id == 3 && error.message.contains(word), "\(error)")
            }
        }
    }

    @Test func subscribeAndUnsubscribeTakeTheQuotesAndTradesChannelsWhichMayResume() throws {
        #expect(
            try parse(#"{"op":"subscribe","id":1,"channel":"quotes","symbols":["AAPL"]}"#).get()
                == .subscribe(id: 1, symbols: ["AAPL"], channel: .quotes))
        #expect(
            try parse(#"{"op":"subscribe","id":1,"channel":"trades","symbols":["AAPL"],"since":{"AAPL":9}}"#).get()
                == .subscribe(
                    id: 1, symbols: ["AAPL"], resume: ResumePoint(epoch: nil, lastSeqs: ["AAPL": 9]), channel: .trades))
        #expect(
            try parse(#"{"op":"unsubscribe","id":2,"channel":"trades","symbols":["AAPL"]}"#).get()
                == .unsubscribe(id: 2, symbols: ["AAPL"], channel: .trades))
    }

    @Test func subscribeAndUnsubscribeTakeACandlesChannelAndInterval() throws {
        #expect(
            try parse(#"{"op":"subscribe","id":1,"channel":"candles","interval":"1m","symbols":["AAPL"]}"#).get()
                == .subscribe(id: 1, symbols: ["AAPL"], channel: .candles(.oneMinute)))
        #expect(
            try parse(#"{"op":"unsubscribe","id":2,"channel":"candles","symbols":["AAPL"]}"#).get()
                == .unsubscribe(id: 2, symbols: ["AAPL"], channel: .candles(nil)), "every interval when absent")
        for (text, word) in [
            (#"{"op":"subscribe","id":3,"channel":"candles","symbols":["AAPL"]}"#, "interval"),
            (#"{"op":"subscribe","id":3,"channel":"candles","interval":"2m","symbols":["AAPL"]}"#, "interval"),
            (#"{"op":"subscribe","id":3,"channel":"candles","interval":60,"symbols":["AAPL"]}"#, "interval"),
            (#"{"op":"subscribe","id":3,"interval":"1m","symbols":["AAPL"]}"#, "interval"),
            (#"{"op":"subscribe","id":3,"channel":"candles","interval":"1m","depth":10,"symbols":["AAPL"]}"#, "depth"),
        ] {
            switch parse(text) {
            case .success(let message): Issue.record("\(text) parsed as \(message)")
            case .failure(let error):
                #expect(error.code == .invalidRequest && error.id == 3 && error.message.contains(word), "\(error)")
            }
        }
    }

    @Test func listsAfterMustBeAString() {
        guard case .failure(let error) = parse(#"{"op":"list","id":7,"after":42}"#) else {
            Issue.record("a numeric \"after\" parsed")
            return
        }
        #expect(error.code == .invalidRequest && error.id == 7 && error.message.contains("after"))
    }

    @Test func subscribeTakesAnOptionalMaximumFrequency() throws {
        #expect(
            try parse(#"{"op":"subscribe","id":1,"symbols":["AAPL"],"maxFrequency":4}"#).get()
                == .subscribe(id: 1, symbols: ["AAPL"], updateInterval: UpdateInterval(milliseconds: 250)))
        #expect(
            try parse(#"{"op":"subscribe","id":1,"symbols":["AAPL"],"maxFrequency":0.5}"#).get()
                == .subscribe(id: 1, symbols: ["AAPL"], updateInterval: UpdateInterval(milliseconds: 2_000)))
        #expect(
            try parse(#"{"op":"subscribe","id":1,"symbols":["AAPL"],"maxFrequency":null}"#).get()
                == .subscribe(id: 1, symbols: ["AAPL"]))
        for bad in [#""fast""#, "0", "-2", "1e9", "[4]"] {
            switch parse(#"{"op":"subscribe","id":6,"symbols":["AAPL"],"maxFrequency":\#(bad)}"#) {
            case .success(let message): Issue.record("maxFrequency \(bad) parsed as \(message)")
            case .failure(let error):
                #expect(error.code == .invalidRequest && error.id == 6 && error.message.contains("maxFrequency"))
            }
        }
    }

    @Test(arguments: [
        ("{bad", ProtocolError.Code.badJSON, nil as Int64?),
        ("[1,2]", .badJSON, nil),
        ("", .badJSON, nil),
        (#""op""#, .badJSON, nil),
        (#"{"op":"dance","id":7}"#, .unknownOp, 7),
        (#"{"id":8}"#, .invalidRequest, 8),
        (#"{"op":"subscribe","id":9}"#, .invalidRequest, 9),
        (#"{"op":"subscribe","id":10,"symbols":"AAPL"}"#, .invalidRequest, 10),
        (#"{"op":"subscribe","id":11,"symbols":[1,2]}"#, .invalidRequest, 11),
        (#"{"op":5,"id":12}"#, .invalidRequest, 12),
        (#"{"op":"ping","id":"x"}"#, .invalidRequest, nil),
        (#"{"op":"ping","id":1.5}"#, .invalidRequest, nil),
        (#"{"op":"auth","id":13}"#, .invalidRequest, 13),
        (#"{"op":"auth","id":14,"token":""}"#, .invalidRequest, 14),
        (#"{"op":"auth","id":15,"token":42}"#, .invalidRequest, 15),
    ])
    func reportsTypedErrorsWithTheRequestID(text: String, code: ProtocolError.Code, id: Int64?) {
        switch parse(text) {
        case .success(let message): Issue.record("expected \(code), parsed \(message)")
        case .failure(let error):
            #expect(error.code == code)
            #expect(error.id == id)
            #expect(!error.message.isEmpty)
        }
    }

    @Test func enforcesLimitsBeforeDecoding() {
        let limits = ClientMessage.Limits(maxMessageBytes: 64, maxSymbolsPerRequest: 2)
        #expect(throws: ProtocolError.self) { try parse(String(repeating: " ", count: 65), limits: limits).get() }
        if case .failure(let error) = parse(#"{"op":"subscribe","id":1,"symbols":["A","B","C"]}"#, limits: limits) {
            #expect(error.code == .tooManySymbols && error.id == 1)
        } else {
            Issue.record("expected too_many_symbols")
        }
    }

    /// The parser is a pure function from bytes: random and mutated inputs must never trap.
    @Test func survivesRandomAndMutatedInput() {
        var generator = SeededGenerator(seed: 99)
        let seeds = [
            #"{"op":"subscribe","id":1,"symbols":["AAPL","MSFT"]}"#, #"{"op":"ping","id":4}"#, #"{"op":"list"}"#,
        ].map { Array($0.utf8) }
        var parsed = 0
        for round in 0..<5_000 {
            var bytes: [UInt8]
            if round % 2 == 0 {
                bytes = (0..<Int(generator.next() % 80)).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            } else {
                bytes = seeds[Int(generator.next() % 3)]
                for _ in 0..<(1 + generator.next() % 4) where !bytes.isEmpty {
                    let position = Int(generator.next() % UInt64(bytes.count))
                    switch generator.next() % 3 {
                    case 0: bytes[position] = UInt8(truncatingIfNeeded: generator.next())
                    case 1: bytes.remove(at: position)
                    default: bytes.insert(UInt8(truncatingIfNeeded: generator.next()), at: position)
                    }
                }
            }
            if case .success = ClientMessage.parse(bytes) { parsed += 1 }
        }
        #expect(parsed > 0)  // some mutations stay valid; the point is that nothing trapped
    }
}

@Suite struct ResumeRequestTests {
    private func parse(_ text: String) -> Result<ClientMessage, ProtocolError> { ClientMessage.parse(Array(text.utf8)) }

    @Test func aSubscribeMayResumeFromTheSeqsItHolds() throws {
        let epoch = try #require(FeedEpoch("1764650000000-0a1b2c3d"))
        #expect(
            try parse(
                #"{"op":"subscribe","id":1,"symbols":["AAPL","MSFT"],"since":{"AAPL":41},"epoch":"1764650000000-0a1b2c3d"}"#
            ).get()
                == .subscribe(
                    id: 1, symbols: ["AAPL", "MSFT"], resume: ResumePoint(epoch: epoch, lastSeqs: ["AAPL": 41])))
        #expect(
            try parse(#"{"op":"subscribe","id":1,"symbols":["AAPL"],"since":{"AAPL":0}}"#).get()
                == .subscribe(id: 1, symbols: ["AAPL"], resume: ResumePoint(epoch: nil, lastSeqs: ["AAPL": 0])))
        // An epoch alone (a client that always sends the one it knows) changes nothing.
        #expect(
            try parse(#"{"op":"subscribe","id":1,"symbols":["AAPL"],"epoch":"e1"}"#).get()
                == .subscribe(id: 1, symbols: ["AAPL"]))
    }

    @Test func aBadResumeIsRefusedWithItsId() {
        let bad = [
            (#""since":{"AAPL":-1}"#, "since"), (#""since":{"AAPL":"41"}"#, "since"), (#""since":[41]"#, "since"),
            (#""since":{"MSFT":41}"#, "since"), (##""since":{"AAPL":1},"epoch":"""##, "epoch"),
            (#""epoch":42"#, "epoch"),
            (#""epoch":"has space""#, "epoch"),
        ]
        for (fields, word) in bad {
            switch parse(#"{"op":"subscribe","id":9,"symbols":["AAPL"],\#(fields)}"#) {
            case .success(let message): Issue.record("\(fields) parsed as \(message)")
            case .failure(let error):
                #expect(
                    error.code == .invalidRequest && error.id == 9 && error.message.contains(word),
                    "\(fields): \(error)")
            }
        }
    }

    @Test func epochsAreTextThatSortsByStartTime() {
        let early = FeedEpoch.starting(at: Timestamp(nanosecondsSinceEpoch: 1_764_650_000_000_000_000), random: 0xab)
        #expect(early.rawValue == "1764650000000-000000ab")
        #expect(FeedEpoch(String(repeating: "x", count: 65)) == nil && FeedEpoch(#"a"b"#) == nil)
    }
}
