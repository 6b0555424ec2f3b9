import Atomics
import FeedModel

/// How many subscriptions, hub-wide, follow a symbol's `quotes` or `trades` stream. The publisher
/// numbers and caches those streams always (a subscriber that comes later needs their seqs and
/// values), but builds and sends their frames only while someone takes them: without it every tick
/// would be encoded and written to the ring twice for nobody.
///
/// Ordering: a loop counts a new subscription *before* it reads the stream's snapshot from the
/// last-value cache, and the publisher asks *after* it wrote a batch to the cache (each under the
/// cache's lock). So an update newer than the snapshot a subscriber got is never left unsent.
public final class ChannelDemand: Sendable {
    private let quotes = ManagedAtomic<Int>(0)
    private let trades = ManagedAtomic<Int>(0)
    /// What kind each stream is (the hub's directory).
    private let kinds: @Sendable ([SymbolID]) -> [StreamKind?]

    public init(kinds: @escaping @Sendable ([SymbolID]) -> [StreamKind?]) {
        self.kinds = kinds
    }

    public var wantsQuotes: Bool { quotes.load(ordering: .relaxed) > 0 }
    public var wantsTrades: Bool { trades.load(ordering: .relaxed) > 0 }

    /// Counts `ids` as subscribed (`by` 1) or no longer (`by` -1).
    func count(_ ids: [SymbolID], by sign: Int) {
        guard !ids.isEmpty else { return }
        var quoteCount = 0, tradeCount = 0
        for kind in kinds(ids) {
            if kind == .quotes { quoteCount += 1 } else if kind == .trades { tradeCount += 1 }
        }
        if quoteCount > 0 { quotes.wrappingIncrement(by: sign * quoteCount, ordering: .relaxed) }
        if tradeCount > 0 { trades.wrappingIncrement(by: sign * tradeCount, ordering: .relaxed) }
    }
}
