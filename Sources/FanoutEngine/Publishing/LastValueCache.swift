import FeedModel
import Synchronization

/// The latest state of every symbol: for snapshots (`subscribe`, `GET /v1/snapshot`), and for the
/// latest values the fan-out sends in place of skipped updates (catch-up, resync after a lap,
/// overdue symbols, throttled releases; `LatestValueFrames`).
///
/// The publisher updates it once per batch, *before* writing the batch to the ring. A subscriber that
/// takes a snapshot with seq N therefore never misses an update above N: those are still ahead of
/// its loop's ring cursor, and the ones at or below N are skipped by their seq.
public final class LastValueCache: Sendable {
    private let snapshots = Mutex<[SymbolSnapshot?]>([])

    public init() {}

    public func apply(_ ticks: some Sequence<(SymbolID, Tick)>) {
        snapshots.withLock { snapshots in
            for (id, tick) in ticks {
                if id.index >= snapshots.count {
                    snapshots.append(contentsOf: repeatElement(nil, count: id.index + 1 - snapshots.count))
                }
                if snapshots[id.index] == nil { snapshots[id.index] = SymbolSnapshot(symbol: tick.symbol) }
                snapshots[id.index]!.apply(tick)
            }
        }
    }

    public func snapshot(of id: SymbolID) -> SymbolSnapshot? {
        snapshots.withLock { id.index < $0.count ? $0[id.index] : nil }
    }

    public func snapshots(of ids: [SymbolID]) -> [SymbolSnapshot?] {
        snapshots.withLock { snapshots in ids.map { $0.index < snapshots.count ? snapshots[$0.index] : nil } }
    }
}
