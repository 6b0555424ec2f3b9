import Foundation
import Testing
@testable import TickerHub

/// A subscriber session's close and ordering rules (`SubscriberSession`, `WebSocketControl`,
/// `CloseHandshake`), byte by byte over a real socket, on each transport: what a session sends
/// first, that a symbol's snapshot comes before its updates and its updates follow on, and that
/// nothing at all follows the hub's Close.
@Suite(.serialized) struct SessionCloseAndOrderingTests {
    @Test(arguments: [SubscriberTransport.owned, .nio])
    func theAckComesFirstThenEachSnapshotBeforeItsUpdatesWhichFollowOn(transport: SubscriberTransport) async throws {
        try await withHub({
            $0.transport = transport
            $0.ticksPerSecond = 2000
            $0.symbols = .count(5)
        }) { _, base in
            let client = try await onOwnThread { try BlockingWebSocketClient(port: base.port!) }
            defer { client.close() }
            #expect(try await onOwnThread { try client.readText() }.contains(#""type":"welcome""#))
            let texts = try await onOwnThread { () throws -> [String] in
                try client.sendText(#"{"op":"subscribe","symbols":["AAPL","MSFT","NVDA"],"id":7}"#)
                return try (0..<300).map { _ in try client.readText() }
            }
            let messages = try texts.map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
            #expect(
                messages[0]["type"] as? String == "ack" && messages[0]["id"] as? Int == 7,
                "the answer comes before what it answers for")
            var last: [String: Int] = [:]
            var updates = 0
            for message in messages.dropFirst() {
                guard let type = message["type"] as? String, let symbol = message["symbol"] as? String,
                    let seq = message["seq"] as? Int
                else { continue }
                if type == "snapshot" {
                    #expect(last[symbol] == nil, "one snapshot per subscription")
                    last[symbol] = seq
                } else {
                    #expect(last[symbol] != nil, "\(symbol): an update before its snapshot")
                    #expect(seq == (last[symbol] ?? -1) + 1, "\(symbol): seq \(seq) after \(last[symbol] ?? -1)")
                    last[symbol] = seq
                    updates += 1
                }
            }
            #expect(Set(last.keys) == ["AAPL", "MSFT", "NVDA"] && updates > 200)
        }
    }

    @Test(arguments: [SubscriberTransport.owned, .nio])
    func aPeersCloseIsAnsweredOnceAndNothingFollowsIt(transport: SubscriberTransport) async throws {
        try await withHub({
            $0.transport = transport
            $0.ticksPerSecond = 2000
        }) { _, base in
            let client = try await onOwnThread { try BlockingWebSocketClient(port: base.port!) }
            defer { client.close() }
            let frames = try await onOwnThread { () throws -> [(opcode: UInt8, payload: [UInt8])] in
                _ = try client.readText()
                try client.sendText(#"{"op":"subscribe","symbols":["AAPL","MSFT"],"id":1}"#)
                for _ in 0..<20 { _ = try client.readText() }  // updates are flowing
                try client.sendClose()
                try? client.sendPing()  // after its Close a peer should send nothing; if it does, it is not answered
                return client.framesUntilEnd()
            }
            // Updates already on their way may come before the answer; the Close is the last frame.
            let closes = frames.indices.filter { frames[$0].opcode == 0x8 }
            #expect(closes.count == 1, "one Close")
            #expect(closes.first == frames.count - 1, "nothing after the Close: \(frames.suffix(3).map(\.opcode))")
            #expect(frames.last.map { Int($0.payload[0]) << 8 | Int($0.payload[1]) } == 1000)
            #expect(!frames.contains { $0.opcode == 0xA }, "no pong to a ping sent after the peer's Close")
        }
    }

    @Test(arguments: [SubscriberTransport.owned, .nio])
    func afterTheHubsCloseNoUpdateNoAnswerAndNoPongIsSent(transport: SubscriberTransport) async throws {
        // Past the request burst the hub closes with 1008, while the feed keeps ticking.
        try await withHub({
            $0.transport = transport
            $0.ticksPerSecond = 2000
            $0.requestBurst = 3
            $0.maxRequestsPerSecond = 1
        }) { _, base in
            let client = try await onOwnThread { try BlockingWebSocketClient(port: base.port!) }
            defer { client.close() }
            let frames = try await onOwnThread { () throws -> [(opcode: UInt8, payload: [UInt8])] in
                _ = try client.readText()
                for id in 1...6 { try client.sendText(#"{"op":"subscribe","symbols":["AAPL","MSFT"],"id":\#(id)}"#) }
                var frames: [(opcode: UInt8, payload: [UInt8])] = []
                repeat { frames.append(try client.nextFrame()) } while frames.last?.opcode != 0x8
                // The hub waits (its close grace) for our answering Close; meanwhile it must send nothing.
                try? client.sendPing()
                try? client.sendText(#"{"op":"ping","id":99}"#)
                return frames + client.framesUntilEnd()
            }
            let closeIndex = try #require(frames.firstIndex { $0.opcode == 0x8 })
            let payload = frames[closeIndex].payload
            #expect(payload.count >= 2 && Int(payload[0]) << 8 | Int(payload[1]) == 1008)
            #expect(
                closeIndex == frames.count - 1, "after the hub's Close: \(frames[(closeIndex + 1)...].map(\.opcode))")
        }
    }
}
