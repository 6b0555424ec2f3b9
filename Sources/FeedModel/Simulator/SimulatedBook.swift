/// One instrument's simulated order book, and the changes that keep it moving the way a real one
/// does: the top follows the quote, levels behind it are added, resized and cancelled, and a trade
/// takes liquidity from the level it hits.
///
/// Every method returns the change it made as level sets (`BookDelta`: the size now at a price, 0
/// for a level gone), which is what a feed publishes: applied in order to a copy that started from
/// `opening`, they give this book exactly. The best bid and ask always equal the last quote the
/// simulator published for the instrument (`MarketSimulator`).
struct SimulatedBook: Sendable {
    /// Levels a side is filled to, behind the best, when it opens and when churn has thinned it.
    static let restingLevels = 40
    private(set) var book = OrderBook()
    /// The price grid: a level's price is a multiple of this mantissa, at `scale`.
    private let tickSize: Int64
    private let scale: UInt8

    /// A book whose best levels are `quote`, with `restingLevels` more per side one tick apart.
    init(quote: Quote, tickSize: Int64, generator: inout SeededGenerator) {
        self.tickSize = tickSize
        self.scale = quote.bid.scale
        // Cannot throw: one scale, positive sizes.
        try! book.set(.bid, price: quote.bid, size: quote.bidSize)
        try! book.set(.ask, price: quote.ask, size: quote.askSize)
        var ignored = BookDelta()
        refill(.bid, into: &ignored, generator: &generator)
        refill(.ask, into: &ignored, generator: &generator)
    }

    /// The whole book as one change (to an empty book).
    var opening: BookDelta { BookDelta(bids: book.bids, asks: book.asks) }

    /// The quote the book shows: its best levels.
    var quote: Quote {
        Quote(bid: book.bids[0].price, ask: book.asks[0].price, bidSize: book.bids[0].size, askSize: book.asks[0].size)
    }

    /// Moves the top to `quote`: levels that would cross it go, its prices take its sizes, and a few
    /// levels behind the top change, as orders arrive and leave.
    mutating func show(_ quote: Quote, generator: inout SeededGenerator) -> BookDelta {
        var change = BookDelta()
        for level in book.bids where level.price > quote.bid { set(.bid, level.price, 0, into: &change) }
        for level in book.asks where level.price < quote.ask { set(.ask, level.price, 0, into: &change) }
        set(.bid, quote.bid, quote.bidSize, into: &change)
        set(.ask, quote.ask, quote.askSize, into: &change)
        let churn = Int(generator.next() % 4)
        for _ in 0..<churn { churnBehindTop(into: &change, generator: &generator) }
        refill(.bid, into: &change, generator: &generator)
        refill(.ask, into: &change, generator: &generator)
        return change
    }

    /// A trade of up to `size` against the best level of `side` (a buyer takes the ask); returns
    /// the size traded (at most the level's) and the change. A side the trade empties is refilled.
    mutating func take(_ side: BookSide, size: Int64, generator: inout SeededGenerator) -> (
        traded: Int64, change: BookDelta
    ) {
        let best = book[side][0]
        let traded = min(size, best.size)
        var change = BookDelta()
        set(side, best.price, best.size - traded, into: &change)
        refill(side, into: &change, generator: &generator)
        return (traded, change)
    }

    /// An order arrives at, or leaves, a level behind the best (never the best: it is the quote).
    /// Nearer levels are busier, as in a real book.
    private mutating func churnBehindTop(into change: inout BookDelta, generator: inout SeededGenerator) {
        let side: BookSide = generator.next() & 1 == 0 ? .bid : .ask
        let best = book[side][0].price.mantissa
        // 1 to 40 ticks behind, skewed near: the square of a uniform draw.
        let unit = generator.nextUnit()
        let ticksBehind = 1 + Int64(unit * unit * Double(Self.restingLevels - 1))
        let price = Price(
            mantissa: side == .bid ? best - ticksBehind * tickSize : best + ticksBehind * tickSize, scale: scale)
        guard price.mantissa > 0 else { return }
        let size = generator.nextUnit() < 0.3 ? 0 : Self.restingSize(&generator)
        set(side, price, size, into: &change)
    }

    /// Adds levels past the worst of `side` until it holds `restingLevels + 1`.
    private mutating func refill(_ side: BookSide, into change: inout BookDelta, generator: inout SeededGenerator) {
        while book[side].count <= Self.restingLevels {
            let worst =
                book[side].last?.price.mantissa
                ?? (side == .bid ? book.asks[0].price.mantissa : book.bids[0].price.mantissa)
            let gap = Int64(1 + generator.next() % 2) * tickSize
            let price = side == .bid ? worst - gap : worst + gap
            guard price > 0 else { return }
            set(side, Price(mantissa: price, scale: scale), Self.restingSize(&generator), into: &change)
        }
    }

    private static func restingSize(_ generator: inout SeededGenerator) -> Int64 {
        Int64(1 + generator.next() % 60) * 100
    }

    private mutating func set(_ side: BookSide, _ price: Price, _ size: Int64, into change: inout BookDelta) {
        // A cancel where nothing rests changes nothing, and is not published.
        if size == 0, !book[side].contains(where: { $0.price == price }) { return }
        // Cannot throw: every price is on this book's scale, every size at least 0.
        try! book.set(side, price: price, size: size)
        change[side].append(PriceLevel(price: price, size: size))
    }
}
