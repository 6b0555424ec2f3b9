/// What a subscription carries (docs/PROTOCOL.md, "Channels").
public enum SubscriptionChannel: Sendable, Hashable {
    /// Quotes and trades, numbered together: a `subscribe` without `"channel"`.
    case ticks
    /// Only quotes, numbered on their own (`"channel":"quotes"`).
    case quotes
    /// Only trades, numbered on their own (`"channel":"trades"`).
    case trades
    /// The symbol's order book, its top `depth` levels per side (`OrderBook.depths`).
    case book(depth: Int)
    /// The symbol's OHLC bars at `interval`, built from its trades.
    case candles(CandleInterval)
}

/// Which channel an `unsubscribe` leaves, or an `ack` is about.
public enum ChannelScope: Sendable, Hashable {
    case ticks
    case quotes
    case trades
    /// The book at `depth`; nil: at every depth subscribed.
    case book(depth: Int?)
    /// The bars at `interval`; nil: at every interval subscribed.
    case candles(CandleInterval?)

    public init(_ channel: SubscriptionChannel) {
        switch channel {
        case .ticks: self = .ticks
        case .quotes: self = .quotes
        case .trades: self = .trades
        case .book(let depth): self = .book(depth: depth)
        case .candles(let interval): self = .candles(interval)
        }
    }
}

extension ChannelScope {
    /// Whether this scope (an `unsubscribe`'s) takes in `channel` (a subscription's).
    public func covers(_ channel: SubscriptionChannel) -> Bool {
        switch (self, channel) {
        case (.ticks, .ticks), (.quotes, .quotes), (.trades, .trades): true
        case let (.book(depth), .book(other)): depth == nil || depth == other
        case let (.candles(interval), .candles(other)): interval == nil || interval == other
        default: false
        }
    }
}
