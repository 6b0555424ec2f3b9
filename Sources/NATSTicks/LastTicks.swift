import FeedModel

/// The latest quote and the latest trade of every symbol seen, each with its own seq: what a
/// snapshot answer sends. A symbol's state needs both (a quote alone has no `last`), and sending
/// the real ticks, not a summary, lets the joining hub apply them as it applies live ones: by seq,
/// so whichever of the answer and the live stream is newer wins.
public struct LastTicks: Sendable {
    private struct Latest: Sendable {
        var quote: Tick?
        var trade: Tick?
    }

    private var bySymbol: [Symbol: Latest] = [:]
    /// Symbols in the order first seen: a publisher's is its universe's (busiest first), and a hub
    /// that warms from the answer registers them in that order, so it lists them as the publisher would.
    private var order: [Symbol] = []

    public init() {}

    public var symbolCount: Int { bySymbol.count }

    /// Keeps `tick` if it is the newest of its kind for its symbol.
    public mutating func record(_ tick: Tick) {
        if bySymbol[tick.symbol] == nil { order.append(tick.symbol) }
        switch tick.body {
        case .quote:
            if (bySymbol[tick.symbol]?.quote?.seq ?? 0) < tick.seq || tick.seq == 0 { bySymbol[tick.symbol, default: Latest()].quote = tick }
        case .trade:
            if (bySymbol[tick.symbol]?.trade?.seq ?? 0) < tick.seq || tick.seq == 0 { bySymbol[tick.symbol, default: Latest()].trade = tick }
        }
    }

    /// The highest seq kept for `symbol` (0 if none): a snapshot answer's ticks at or below it are
    /// already known.
    public func latestSeq(of symbol: Symbol) -> UInt64 {
        guard let latest = bySymbol[symbol] else { return 0 }
        return max(latest.quote?.seq ?? 0, latest.trade?.seq ?? 0)
    }

    /// Forgets everything (a new epoch: the old seqs mean nothing).
    public mutating func removeAll() {
        bySymbol.removeAll(keepingCapacity: true)
        order.removeAll(keepingCapacity: true)
    }

    /// Every kept tick, each symbol's oldest first, symbols in the order first seen.
    public var ticks: [Tick] {
        var ticks: [Tick] = []
        ticks.reserveCapacity(bySymbol.count * 2)
        for symbol in order {
            let latest = bySymbol[symbol]!
            let pair = [latest.quote, latest.trade].compactMap { $0 }.sorted { $0.seq < $1.seq }
            ticks.append(contentsOf: pair)
        }
        return ticks
    }
}
