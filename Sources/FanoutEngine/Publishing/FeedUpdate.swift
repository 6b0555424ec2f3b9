import FeedModel

/// An update from a feed source (the simulator, an ingest publisher, NATS), already resolved to
/// its symbol id. The publisher gives it the symbol's next `seq`, unless the source numbered it
/// (`upstreamSeq`): then that seq is kept, so every hub fed the same updates numbers them alike.
public struct FeedUpdate: Sendable, Hashable {
    public var symbolID: SymbolID
    public var symbol: Symbol
    /// When the feed source published it; carried as `ts` for end-to-end latency.
    public var timestamp: Timestamp
    public var body: TickBody
    /// The seq the source gave it; nil (or 0): the hub numbers it.
    public var upstreamSeq: UInt64?

    public init(symbolID: SymbolID, symbol: Symbol, timestamp: Timestamp, body: TickBody, upstreamSeq: UInt64? = nil) {
        self.symbolID = symbolID
        self.symbol = symbol
        self.timestamp = timestamp
        self.body = body
        self.upstreamSeq = upstreamSeq == 0 ? nil : upstreamSeq
    }
}
