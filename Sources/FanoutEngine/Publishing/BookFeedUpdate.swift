import FeedModel

/// A change to a symbol's order book from a feed source, already resolved to the symbol's id:
/// level sets (the size now at each price, 0 for a level gone), or with `replacesBook` a whole new
/// book (a publisher's snapshot, after it started or lost its place).
public struct BookFeedUpdate: Sendable, Hashable {
    public var symbolID: SymbolID
    public var symbol: Symbol
    public var timestamp: Timestamp
    public var change: BookDelta
    public var replacesBook: Bool
    /// The publisher's number for this change of the symbol's book (`BookRecord.seq`); nil: none.
    /// One at or below the last is stale and dropped; a jump is counted as an upstream gap.
    public var upstreamSeq: UInt64?

    public init(
        symbolID: SymbolID, symbol: Symbol, timestamp: Timestamp, change: BookDelta, replacesBook: Bool = false,
        upstreamSeq: UInt64? = nil
    ) {
        self.symbolID = symbolID
        self.symbol = symbol
        self.timestamp = timestamp
        self.change = change
        self.replacesBook = replacesBook
        self.upstreamSeq = upstreamSeq == 0 ? nil : upstreamSeq
    }
}
