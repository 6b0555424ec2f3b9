import FeedModel

/// An unsequenced update from a feed source (the simulator, an ingest publisher, later NATS),
/// already resolved to its symbol id. The publisher gives it a `seq`.
public struct FeedUpdate: Sendable, Hashable {
    public var symbolID: SymbolID
    public var symbol: Symbol
    /// When the feed source published it; carried as `ts` for end-to-end latency.
    public var timestamp: Timestamp
    public var body: TickBody

    public init(symbolID: SymbolID, symbol: Symbol, timestamp: Timestamp, body: TickBody) {
        self.symbolID = symbolID
        self.symbol = symbol
        self.timestamp = timestamp
        self.body = body
    }
}
