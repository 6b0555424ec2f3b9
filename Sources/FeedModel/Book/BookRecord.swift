/// A change to a symbol's order book as a publisher sends it (`BinaryTickCodec`, kind 3): level
/// sets (the size now at each price, 0 for a level gone), or with `replacesBook` the whole book.
///
/// `seq` numbers the publisher's book changes of the symbol, apart from its ticks (0: none). The
/// hub checks it as it checks a tick's: a change at or below the last is stale and dropped, a jump
/// is counted as an upstream gap. A whole book (`replacesBook`) is taken whatever its seq, and the
/// changes after it follow its seq: a publisher that restarts, or knows it skipped a change, sends one.
public struct BookRecord: Sendable, Hashable {
    public var symbol: Symbol
    public var seq: UInt64
    public var timestamp: Timestamp
    public var change: BookDelta
    public var replacesBook: Bool

    public init(symbol: Symbol, seq: UInt64, timestamp: Timestamp, change: BookDelta, replacesBook: Bool = false) {
        self.symbol = symbol
        self.seq = seq
        self.timestamp = timestamp
        self.change = change
        self.replacesBook = replacesBook
    }
}

/// What one binary batch holds: ticks, book changes and instrument details, each in the order they were encoded.
public struct FeedBatch: Sendable, Hashable {
    public var ticks: [Tick]
    public var books: [BookRecord]
    public var instruments: [InstrumentRecord]

    public init(ticks: [Tick] = [], books: [BookRecord] = [], instruments: [InstrumentRecord] = []) {
        self.ticks = ticks
        self.books = books
        self.instruments = instruments
    }

    public var count: Int { ticks.count + books.count + instruments.count }
}
