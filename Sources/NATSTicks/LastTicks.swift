import FeedModel

/// The latest quote and the latest trade of every symbol seen, each with its own seq, and every
/// symbol's whole book with its book seq: what a snapshot answer sends. A symbol's state needs both (a quote alone has
/// no `last`), and sending the real ticks, not a summary, lets the joining hub apply them as it applies live ones: by
/// seq, so whichever of the answer and the live stream is newer wins.
public struct LastTicks: Sendable {
    private struct Latest: Sendable {
        var quote: Tick?
        var trade: Tick?
    }

    private var bySymbol: [Symbol: Latest] = [:]
    /// Each symbol's book as its changes built it, and the last book seq: kept only while the
    /// changes follow on from a whole book (or an empty one at seq 1), as a hub keeps its own.
    private var books: [Symbol: (seq: UInt64, book: OrderBook)] = [:]
    private var bookOrder: [Symbol] = []
    /// Each symbol's details, in the order first set.
    private var details: [Symbol: InstrumentDetails] = [:]
    private var detailOrder: [Symbol] = []

    /// Keeps `record`'s details as its symbol's.
    public mutating func record(_ record: InstrumentRecord) {
        if details.updateValue(record.details, forKey: record.symbol) == nil { detailOrder.append(record.symbol) }
    }

    /// Every symbol's details kept.
    public var instruments: [InstrumentRecord] {
        detailOrder.map { InstrumentRecord(symbol: $0, details: details[$0]!) }
    }
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
            if (bySymbol[tick.symbol]?.quote?.seq ?? 0) < tick.seq || tick.seq == 0 {
                bySymbol[tick.symbol, default: Latest()].quote = tick
            }
        case .trade:
            if (bySymbol[tick.symbol]?.trade?.seq ?? 0) < tick.seq || tick.seq == 0 {
                bySymbol[tick.symbol, default: Latest()].trade = tick
            }
        }
    }

    /// The highest seq kept for `symbol` (0 if none): a snapshot answer's ticks at or below it are
    /// already known.
    public func latestSeq(of symbol: Symbol) -> UInt64 {
        guard let latest = bySymbol[symbol] else { return 0 }
        return max(latest.quote?.seq ?? 0, latest.trade?.seq ?? 0)
    }

    /// Keeps the book `record` changes, if it follows on from the one kept (a whole book always
    /// does; a numbered change must be the next seq; an unnumbered one is taken as it comes).
    public mutating func record(_ record: BookRecord) {
        let kept = books[record.symbol]
        if kept == nil { bookOrder.append(record.symbol) }
        var book: OrderBook
        if record.replacesBook {
            book = OrderBook()
        } else if let kept, record.seq == 0 || record.seq == kept.seq + 1 {
            book = kept.book
        } else if kept == nil, record.seq <= 1 {
            book = OrderBook()
        } else {
            books[record.symbol] = nil  // it would be wrong from here: answer without it
            bookOrder.removeAll { $0 == record.symbol }
            return
        }
        guard (try? book.apply(record.change)) != nil else { return }
        books[record.symbol] = (record.seq, book)
    }

    /// The last book seq of `symbol`'s kept book; nil when none is kept (never seen, or out of
    /// step: it needs a whole book).
    public func bookSeq(of symbol: Symbol) -> UInt64? { books[symbol]?.seq }

    /// Every kept book, whole, numbered with its last seq.
    public func wholeBooks(at timestamp: Timestamp) -> [BookRecord] {
        bookOrder.compactMap { symbol in
            books[symbol].map {
                BookRecord(
                    symbol: symbol, seq: $0.seq, timestamp: timestamp,
                    change: BookDelta(bids: $0.book.bids, asks: $0.book.asks), replacesBook: true)
            }
        }
    }

    /// Forgets everything (a new epoch: the old seqs mean nothing).
    public mutating func removeAll() {
        bySymbol.removeAll(keepingCapacity: true)
        order.removeAll(keepingCapacity: true)
        books.removeAll(keepingCapacity: true)
        bookOrder.removeAll(keepingCapacity: true)
        details.removeAll(keepingCapacity: true)
        detailOrder.removeAll(keepingCapacity: true)
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
