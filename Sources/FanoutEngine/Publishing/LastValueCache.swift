import FeedModel
import Synchronization

/// The latest state of every symbol: for snapshots (`subscribe`, `GET /v1/snapshot`), and for the
/// latest values the fan-out sends in place of skipped updates (catch-up, resync after a lap,
/// overdue symbols, throttled releases; `LatestValueFrames`). With a history depth, also each
/// symbol's last updates, which a reconnecting client can recover (`SymbolHistory`).
///
/// The publisher updates it once per batch, *before* writing the batch to the ring. A subscriber that
/// takes a snapshot with seq N therefore never misses an update above N: those are still ahead of
/// its loop's ring cursor, and the ones at or below N are skipped by their seq. A recovery is read
/// under the same lock as its snapshot, so the replay ends exactly where the ring takes over.
public final class LastValueCache: Sendable {
    private struct Symbols {
        var snapshots: [SymbolSnapshot?] = []
        var histories: [SymbolHistory?] = []
        /// Symbols `starts` has read: the work subscribes cost under the publisher's lock (tests).
        var startsRead = 0
    }

    private let symbols = Mutex(Symbols())
    /// Updates kept per symbol for recovery; 0 keeps none.
    public let historyDepth: Int

    public init(historyDepth: Int = 0) {
        precondition(historyDepth >= 0)
        self.historyDepth = historyDepth
    }

    public func apply(_ ticks: some Sequence<(SymbolID, Tick)>) {
        let depth = historyDepth
        symbols.withLock { symbols in
            for (id, tick) in ticks {
                if id.index >= symbols.snapshots.count {
                    let missing = id.index + 1 - symbols.snapshots.count
                    symbols.snapshots.append(contentsOf: repeatElement(nil, count: missing))
                    if depth > 0 { symbols.histories.append(contentsOf: repeatElement(nil, count: missing)) }
                }
                if symbols.snapshots[id.index] == nil { symbols.snapshots[id.index] = SymbolSnapshot(symbol: tick.symbol) }
                symbols.snapshots[id.index]!.apply(tick)
                if depth > 0 {
                    if symbols.histories[id.index] == nil { symbols.histories[id.index] = SymbolHistory(depth: depth) }
                    symbols.histories[id.index]!.append(tick)
                }
            }
        }
    }

    /// Forgets every value and history (a feed's new epoch: their seqs belong to the old one).
    public func removeAll() {
        symbols.withLock { symbols in
            symbols.snapshots = symbols.snapshots.map { _ in nil }
            symbols.histories = symbols.histories.map { _ in nil }
        }
    }

    /// How many symbols have a value.
    public var valuedCount: Int {
        symbols.withLock { $0.snapshots.reduce(0) { $0 + ($1 == nil ? 0 : 1) } }
    }

    /// How many symbols `starts` has read so far.
    var startsRead: Int { symbols.withLock { $0.startsRead } }

    public func snapshot(of id: SymbolID) -> SymbolSnapshot? {
        symbols.withLock { id.index < $0.snapshots.count ? $0.snapshots[id.index] : nil }
    }

    public func snapshots(of ids: [SymbolID]) -> [SymbolSnapshot?] {
        symbols.withLock { symbols in ids.map { $0.index < symbols.snapshots.count ? symbols.snapshots[$0.index] : nil } }
    }

    /// For each of `ids`, its snapshot and, where `resumingAfter` gives the seq a client holds and
    /// the history still has every update after it, those updates (nil otherwise). `replayLimit`
    /// caps the updates replayed for one request: past it, symbols get snapshots, so one subscribe
    /// cannot queue an unbounded burst for its connection, nor make the publisher wait on this lock
    /// while it copies one: the copying stops at the limit.
    public func starts(of ids: [SymbolID], resumingAfter seqs: [UInt64?], replayLimit: Int) -> [(SymbolSnapshot?, [Tick]?)] {
        precondition(ids.count == seqs.count)
        return symbols.withLock { symbols in
            symbols.startsRead += ids.count
            var budget = replayLimit
            return zip(ids, seqs).map { id, seq in
                let snapshot = id.index < symbols.snapshots.count ? symbols.snapshots[id.index] : nil
                guard let seq else { return (snapshot, nil) }
                let latest = snapshot?.seq ?? 0
                let history = id.index < symbols.histories.count ? symbols.histories[id.index] : nil
                let missed = seq == latest ? [] : history?.updates(after: seq, latest: latest, limit: budget)
                guard let missed else { return (snapshot, nil) }
                budget -= missed.count
                return (snapshot, missed)
            }
        }
    }
}
