import FeedModel

/// The last seq issued on every stream (a symbol's updates, its `quotes` and `trades` channels, each
/// book depth, each bar interval), by the stream's id: the publisher numbers each stream from 1, or
/// keeps a numbering source's seqs, and nothing else writes them. Confined to the publisher's loop.
///
/// No overflow, whatever a publisher sends: an upstream seq is at most `Tick.maxSeq` (2^53 - 1;
/// larger ones are refused), so a gap is below 2^53, and the hub's own numbering (+1 per message)
/// starts at most there and would need 2^63 messages to reach `UInt64.max`.
struct StreamNumbering {
    private var lastSeq: [UInt64] = []

    /// What an upstream seq means for its stream.
    enum Upstream: Equatable {
        /// Taken as the stream's last seq; `gap`: the seqs skipped since the previous one
        /// (0 for the stream's first, which is where this hub joined it, not a gap).
        case accepted(gap: UInt64)
        /// At or before the stream's last seq: repeated or out of order.
        case stale
        /// Beyond `Tick.maxSeq`.
        case refused
    }

    /// The next seq of `stream` in the hub's own numbering, which it becomes.
    mutating func next(_ stream: SymbolID) -> UInt64 {
        let index = slot(stream)
        lastSeq[index] += 1
        return lastSeq[index]
    }

    /// Takes `seq`, a numbering source's, as `stream`'s last if it is newer.
    mutating func accept(upstream seq: UInt64, for stream: SymbolID) -> Upstream {
        guard seq <= Tick.maxSeq else { return .refused }
        let index = slot(stream)
        let last = lastSeq[index]
        guard seq > last else { return .stale }
        lastSeq[index] = seq
        return .accepted(gap: last > 0 ? seq - last - 1 : 0)
    }

    /// Forgets every stream's seq: a new epoch numbers from the start.
    mutating func removeAll() {
        for index in lastSeq.indices { lastSeq[index] = 0 }
    }

    private mutating func slot(_ stream: SymbolID) -> Int {
        let index = stream.index
        if index >= lastSeq.count { lastSeq.append(contentsOf: repeatElement(0, count: index + 1 - lastSeq.count)) }
        return index
    }
}
