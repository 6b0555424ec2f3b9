import FeedModel

/// The last `depth` updates of one symbol, for clients that reconnect and ask to recover what they
/// missed (`subscribe` with `since`). A fixed ring: once full, each update replaces the oldest, so
/// memory is `depth` updates per symbol whatever the feed does.
///
/// Invariant: `ticks` holds at most `depth` updates and, read from `oldest` round to just before
/// it, their seqs rise (the publisher numbers each symbol's updates in order).
struct SymbolHistory {
    private var ticks: [Tick] = []
    /// Where the oldest update is, once the ring is full (before that, 0).
    private var oldest = 0
    let depth: Int

    init(depth: Int) {
        precondition(depth > 0)
        self.depth = depth
    }

    mutating func append(_ tick: Tick) {
        if ticks.count < depth {
            if ticks.isEmpty { ticks.reserveCapacity(min(depth, 64)) }
            ticks.append(tick)
        } else {
            ticks[oldest] = tick
            oldest = (oldest + 1) % depth
        }
    }

    /// Every update after `seq`, oldest first, if the ring still holds them all and they are at most
    /// `limit`; nil if some are gone (the client was away too long), if there are more than `limit`,
    /// or if `seq` is ahead of the newest (not this numbering). `latest` is the symbol's newest seq:
    /// with nothing newer than `seq`, there is nothing to miss.
    ///
    /// `seq` is the client's and seqs may jump (a numbering feed's gaps), so the work and the
    /// allocation are bounded by what the ring holds and by `limit`, never by `latest - seq`.
    func updates(after seq: UInt64, latest: UInt64, limit: Int) -> [Tick]? {
        if seq == latest { return [] }
        guard seq < latest, let first = ticks.isEmpty ? nil : ticks[oldest], first.seq <= seq + 1 else { return nil }
        // Seqs rise from `oldest`, so the missed updates are the newest ones: count them from the end.
        var count = 0
        while count < ticks.count, ticks[(oldest + ticks.count - 1 - count) % ticks.count].seq > seq {
            count += 1
            if count > limit { return nil }
        }
        var missed: [Tick] = []
        missed.reserveCapacity(count)
        for offset in (ticks.count - count)..<ticks.count {
            missed.append(ticks[(oldest + offset) % ticks.count])
        }
        return missed
    }
}
