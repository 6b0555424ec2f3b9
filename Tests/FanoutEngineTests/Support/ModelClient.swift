@testable import FanoutEngine
import FeedModel
import Foundation
import NIOCore
import NIOEmbedded
import Testing

/// A client that follows the v1 rules: it applies snapshots, updates and conflated values, and checks
/// that seqs only ever rise, adding up the gaps it is shown.
struct ModelClient {
    struct State: Equatable {
        var seq: UInt64
        var bid: String?
        init(seq: UInt64, bid: String?) {
            self.seq = seq
            self.bid = bid
        }
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
            if object["type"] as? String == "quote" {
                #expect(seq == previous.seq + 1, "a live update skipped seqs without a conflated value")
            }
            gapTotal += seq - previous.seq - 1
            state[symbol] = State(seq: seq, bid: object["bid"] as? String ?? previous.bid)
        }
    }
}
