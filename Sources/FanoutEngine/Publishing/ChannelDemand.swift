import Atomics
import FeedModel

/// How many subscriptions, hub-wide, follow each kind of stream that is built on demand: a symbol's
/// `quotes` and `trades` streams, its book at each depth, its bars at each interval. The publisher
/// numbers and caches those streams always (a subscriber that comes later needs their seqs and
/// values), but builds and sends their frames only while someone takes that kind: without it every
/// tick would be encoded and written to the ring again for each channel, each book change once per
/// depth, and each trade once per interval, for nobody.
///
/// Ordering: a loop counts a new subscription *before* it reads the stream's snapshot from the
/// last-value cache, and the publisher asks *after* it wrote a batch to the cache (each under the
/// cache's lock). So an update newer than the snapshot a subscriber got is never left unsent.
public final class ChannelDemand: Sendable {
    /// Subscriptions per kind, at `slot(of:)`: quotes, trades, each book depth, each bar interval.
    private let counts: [ManagedAtomic<Int>]
    /// What kind each stream is (the hub's directory).
    private let kinds: @Sendable ([SymbolID]) -> [StreamKind?]

    public init(kinds: @escaping @Sendable ([SymbolID]) -> [StreamKind?]) {
        self.kinds = kinds
        counts = (0..<(2 + OrderBook.depths.count + CandleInterval.allCases.count)).map { _ in ManagedAtomic(0) }
    }

    /// Whether some subscription follows streams of `kind`; always true for `.ticks`, whose frames
    /// every default subscriber takes.
    public func wants(_ kind: StreamKind) -> Bool {
        guard let slot = Self.slot(of: kind) else { return true }
        return counts[slot].load(ordering: .relaxed) > 0
    }

    /// Counts `ids` as subscribed (`by` 1) or no longer (`by` -1).
    func count(_ ids: [SymbolID], by sign: Int) {
        guard !ids.isEmpty else { return }
        var changes = [Int](repeating: 0, count: counts.count)
        for kind in kinds(ids) {
            if let kind, let slot = Self.slot(of: kind) { changes[slot] += 1 }
        }
        for (slot, change) in changes.enumerated() where change > 0 {
            counts[slot].wrappingIncrement(by: sign * change, ordering: .relaxed)
        }
    }

    private static func slot(of kind: StreamKind) -> Int? {
        switch kind {
        case .ticks: nil
        case .quotes: 0
        case .trades: 1
        case .book(let depth): OrderBook.depths.firstIndex(of: depth).map { 2 + $0 }
        case .candles(let interval):
            CandleInterval.allCases.firstIndex(of: interval).map { 2 + OrderBook.depths.count + $0 }
        }
    }
}
