/// Why a change to an order book was refused. The book is unchanged after one.
public enum BookError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A size below zero (0 removes a level).
    case negativeSize
    /// A price quoted with another number of decimals than the book's levels: two texts of one
    /// value (`"189.12"`, `"189.1200"`) must not become two levels.
    case scaleMismatch(book: UInt8, price: UInt8)

    public var description: String {
        switch self {
        case .negativeSize: "a level's size must not be negative"
        case let .scaleMismatch(book, price): "the book's prices have \(book) decimals, this one \(price)"
        }
    }
}

/// One symbol's order book (level 2): the size resting at each price, per side, best first.
///
/// Bounded: at most `maxDepth` levels per side. A level worse than the last of a full side is not
/// kept, and a better one pushes the worst out, so a publisher cannot grow the hub's memory by
/// sending levels far from the market. Prices of one book share one scale (`BookError`).
///
/// What a subscriber at depth `d` sees is the top `d` levels per side (`depths`): a snapshot of
/// them, then after each change `delta(from:depth:)`, the levels that changed within them. Applying
/// that delta to the previous top `d` levels gives exactly the new ones, and `checksum` lets the
/// client check it.
public struct OrderBook: Sendable, Hashable {
    /// The depths a subscriber may ask for.
    public static let depths = [10, 25, 100]
    /// Levels kept per side.
    public static let maxDepth = 100

    /// Best (highest) first.
    public private(set) var bids: [PriceLevel] = []
    /// Best (lowest) first.
    public private(set) var asks: [PriceLevel] = []

    public init() {}

    /// A book of these levels, each side in any order; refused as `set` would refuse a level.
    public init(bids: [PriceLevel], asks: [PriceLevel]) throws(BookError) {
        for level in bids { try set(.bid, price: level.price, size: level.size) }
        for level in asks { try set(.ask, price: level.price, size: level.size) }
    }

    public var bestBid: PriceLevel? { bids.first }
    public var bestAsk: PriceLevel? { asks.first }
    public var isEmpty: Bool { bids.isEmpty && asks.isEmpty }

    /// The scale every price of this book has; nil while it is empty.
    public var scale: UInt8? { (bids.first ?? asks.first)?.price.scale }

    public subscript(side: BookSide) -> [PriceLevel] { side == .bid ? bids : asks }

    /// The CRC-32 of the top ten levels per side (`BookChecksum`).
    public var checksum: UInt32 { BookChecksum.of(bids: bids, asks: asks) }

    /// The top `depth` levels per side, as a book of their own.
    public func truncated(to depth: Int) -> OrderBook {
        var book = OrderBook()
        book.bids = Array(bids.prefix(depth))
        book.asks = Array(asks.prefix(depth))
        return book
    }

    /// Sets the size resting at `price` on `side`; 0 removes the level.
    public mutating func set(_ side: BookSide, price: Price, size: Int64) throws(BookError) {
        guard size >= 0 else { throw .negativeSize }
        if let scale, scale != price.scale { throw .scaleMismatch(book: scale, price: price.scale) }
        if side == .bid {
            Self.set(&bids, descending: true, price: price, size: size)
        } else {
            Self.set(&asks, descending: false, price: price, size: size)
        }
    }

    /// Applies every level of `delta`, all or nothing.
    public mutating func apply(_ delta: BookDelta) throws(BookError) {
        var book = self
        for level in delta.bids { try book.set(.bid, price: level.price, size: level.size) }
        for level in delta.asks { try book.set(.ask, price: level.price, size: level.size) }
        self = book
    }

    /// What changed in the top `depth` levels per side since `previous`: each level that left them
    /// with size 0, then each level there that is new or resized with its size now. Applied in
    /// order to the previous top `depth` levels, it gives the new ones exactly.
    public func delta(from previous: OrderBook, depth: Int) -> BookDelta {
        BookDelta(
            bids: Self.changes(from: previous.bids.prefix(depth), to: bids.prefix(depth), descending: true),
            asks: Self.changes(from: previous.asks.prefix(depth), to: asks.prefix(depth), descending: false))
    }

    // MARK: One side

    /// Whether `a` ranks before `b` on a side sorted best first.
    @inline(__always)
    private static func ranksBefore(_ a: Price, _ b: Price, descending: Bool) -> Bool {
        descending ? b < a : a < b
    }

    private static func set(_ levels: inout [PriceLevel], descending: Bool, price: Price, size: Int64) {
        // The first level that does not rank before `price`: where it is, or goes.
        var low = 0
        var high = levels.count
        while low < high {
            let middle = (low + high) / 2
            if ranksBefore(levels[middle].price, price, descending: descending) {
                low = middle + 1
            } else {
                high = middle
            }
        }
        if low < levels.count, levels[low].price == price {
            if size == 0 {
                levels.remove(at: low)
            } else {
                levels[low].size = size
            }
        } else if size > 0, low < maxDepth {
            levels.insert(PriceLevel(price: price, size: size), at: low)
            if levels.count > maxDepth { levels.removeLast() }
        }
    }

    /// The merge of two sides' windows: the levels that left (size 0), then the new and resized
    /// ones, each part best first. Removals go first so that a client applying them in order never
    /// holds more than the window: a book bounded at that depth (as ours is at `maxDepth`) would
    /// otherwise push out a level that stays, to make room for one that arrives.
    private static func changes(
        from before: ArraySlice<PriceLevel>, to after: ArraySlice<PriceLevel>,
        descending: Bool
    ) -> [PriceLevel] {
        var removed: [PriceLevel] = []
        var changed: [PriceLevel] = []
        var old = before.startIndex
        var new = after.startIndex
        while old < before.endIndex || new < after.endIndex {
            if new == after.endIndex
                || (old < before.endIndex && ranksBefore(before[old].price, after[new].price, descending: descending))
            {
                removed.append(PriceLevel(price: before[old].price, size: 0))  // gone from the window
                old += 1
            } else if old == before.endIndex || before[old].price != after[new].price {
                changed.append(after[new])  // new in the window
                new += 1
            } else {
                if before[old].size != after[new].size { changed.append(after[new]) }
                old += 1
                new += 1
            }
        }
        return removed + changed
    }
}
