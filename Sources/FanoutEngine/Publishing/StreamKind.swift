import FeedModel

/// What one stream of a symbol carries (`SymbolDirectory`): each is numbered, cached, conflated and
/// fanned out on its own.
public enum StreamKind: Sendable, Hashable {
    /// Quotes and trades, numbered together: the symbol's own id.
    case ticks
    /// Only the quotes, numbered on their own (the `quotes` channel).
    case quotes
    /// Only the trades, numbered on their own (the `trades` channel).
    case trades
    /// The order book's top levels at a depth (`OrderBook.depths`).
    case book(depth: Int)
    /// OHLC bars at an interval, built from the trades.
    case candles(CandleInterval)
}
