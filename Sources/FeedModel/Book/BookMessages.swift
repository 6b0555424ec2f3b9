import NIOCore

/// A subscriber's view of one symbol's book at one depth: the top `depth` levels per side, with the
/// seq of the book stream it belongs to. What a `book` message and `GET /v1/book` carry.
///
/// `seq` counts the messages of the (symbol, depth) stream: every `bookUpdate` of it is the previous
/// seq + 1, so a client that sees a jump knows it missed one and must not trust its book. A depth-10
/// stream gets an update only when its top 10 levels change, so its seq is its own, not the
/// symbol's (quotes and trades number theirs apart).
public struct BookSnapshot: Sendable, Hashable {
    public var symbol: Symbol
    public var depth: Int
    public var seq: UInt64
    public var timestamp: Timestamp
    /// The whole book; only its top `depth` levels per side are sent.
    public var book: OrderBook

    public init(
        symbol: Symbol, depth: Int, seq: UInt64 = 0, timestamp: Timestamp = Timestamp(nanosecondsSinceEpoch: 0),
        book: OrderBook = OrderBook()
    ) {
        self.symbol = symbol
        self.depth = depth
        self.seq = seq
        self.timestamp = timestamp
        self.book = book
    }

    public var bids: ArraySlice<PriceLevel> { book.bids.prefix(depth) }
    public var asks: ArraySlice<PriceLevel> { book.asks.prefix(depth) }
    public var checksum: UInt32 { book.checksum }
}

/// The change to one (symbol, depth) book stream: the levels that changed within the top `depth`
/// (`BookDelta`: removals, with size 0, first), and the checksum of the book after it.
public struct BookUpdate: Sendable, Hashable {
    public var symbol: Symbol
    public var depth: Int
    public var seq: UInt64
    public var timestamp: Timestamp
    public var delta: BookDelta
    public var checksum: UInt32

    public init(symbol: Symbol, depth: Int, seq: UInt64, timestamp: Timestamp, delta: BookDelta, checksum: UInt32) {
        self.symbol = symbol
        self.depth = depth
        self.seq = seq
        self.timestamp = timestamp
        self.delta = delta
        self.checksum = checksum
    }
}

extension JSONWriter {
    /// The fields of a `book` message after `"type"`, shared with `GET /v1/book`.
    public mutating func bookFields(_ snapshot: BookSnapshot) {
        field("symbol", snapshot.symbol.name)
        field("depth", snapshot.depth)
        field("seq", snapshot.seq)
        field("ts", snapshot.timestamp.nanosecondsSinceEpoch)
        levels("bids", snapshot.bids)
        levels("asks", snapshot.asks)
        field("checksum", snapshot.checksum)
    }

    mutating func bookUpdateFields(_ update: BookUpdate) {
        field("symbol", update.symbol.name)
        field("depth", update.depth)
        field("seq", update.seq)
        field("ts", update.timestamp.nanosecondsSinceEpoch)
        levels("bids", update.delta.bids)
        levels("asks", update.delta.asks)
        field("checksum", update.checksum)
    }

    /// `"key":[["189.1200","300"],...]`: price and size as strings, as Coinbase sends them, so no
    /// client reads either as a float.
    private mutating func levels(_ key: StaticString, _ levels: some Collection<PriceLevel>) {
        beginArray(key: key)
        for level in levels {
            beginArrayValue()
            price(level.price)
            quotedInteger(level.size)
            endArray()
        }
        endArray()
    }
}
