@testable import FanoutEngine
import FeedModel
import Testing

@Suite struct StreamNumberingTests {
    @Test func ownNumberingCountsEachStreamFromOne() {
        var numbering = StreamNumbering()
        let (a, b) = (SymbolID(0), SymbolID(7))
        #expect([numbering.next(a), numbering.next(a), numbering.next(b), numbering.next(a)] == [1, 2, 1, 3])
        numbering.removeAll()
        #expect(numbering.next(b) == 1, "a new epoch numbers from the start")
    }

    @Test func upstreamSeqsAreTakenWithTheirGapsStaleOnesAndHugeOnesAreNot() {
        var numbering = StreamNumbering()
        let stream = SymbolID(3)
        let cases: [(UInt64, StreamNumbering.Upstream)] = [
            (100, .accepted(gap: 0)),  // where the hub joined the stream
            (101, .accepted(gap: 0)),
            (105, .accepted(gap: 3)),
            (105, .stale),
            (90, .stale),
            (Tick.maxSeq + 1, .refused),
            (Tick.maxSeq, .accepted(gap: Tick.maxSeq - 106)),
            (UInt64.max, .refused),
        ]
        for (seq, expected) in cases {
            #expect(numbering.accept(upstream: seq, for: stream) == expected, "seq \(seq)")
        }
        #expect(numbering.next(stream) == Tick.maxSeq + 1, "the hub's own numbering goes on from the last seq taken")
    }
}
