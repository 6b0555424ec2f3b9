/// A side of an order book.
public enum BookSide: String, Sendable, Hashable, CaseIterable {
    case bid, ask
}

/// One price level of a side: the total size resting at `price`. A size of 0 in a `BookDelta`
/// means the level is gone; a book never holds one.
public struct PriceLevel: Sendable, Hashable {
    public var price: Price
    public var size: Int64

    public init(price: Price, size: Int64) {
        self.price = price
        self.size = size
    }
}

/// What changed in the levels a subscriber at some depth sees, per side: the levels that left, with
/// size 0, then the levels that are new or resized, with their sizes now. Applied in order to the
/// previous levels at that depth, it gives exactly the new ones (`OrderBook.delta(from:depth:)`).
public struct BookDelta: Sendable, Hashable {
    public var bids: [PriceLevel]
    public var asks: [PriceLevel]

    public init(bids: [PriceLevel] = [], asks: [PriceLevel] = []) {
        self.bids = bids
        self.asks = asks
    }

    public var isEmpty: Bool { bids.isEmpty && asks.isEmpty }

    public subscript(side: BookSide) -> [PriceLevel] {
        get { side == .bid ? bids : asks }
        set {
            if side == .bid { bids = newValue } else { asks = newValue }
        }
    }
}
