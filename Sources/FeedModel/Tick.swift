/// Top of book: best bid and ask with their sizes.
public struct Quote: Sendable, Hashable {
    public var bid: Price
    public var ask: Price
    public var bidSize: Int64
    public var askSize: Int64

    public init(bid: Price, ask: Price, bidSize: Int64, askSize: Int64) {
        self.bid = bid
        self.ask = ask
        self.bidSize = bidSize
        self.askSize = askSize
    }
}

/// One execution.
public struct Trade: Sendable, Hashable {
    public var price: Price
    public var size: Int64

    public init(price: Price, size: Int64) {
        self.price = price
        self.size = size
    }
}

/// What changed in one update.
public enum TickBody: Sendable, Hashable {
    case quote(Quote)
    case trade(Trade)
}

/// A sequenced market-data update for one symbol.
///
/// `seq` is per symbol: it starts at 1 and rises by exactly 1 for every update of that symbol,
/// quotes and trades alike, so a client that sees a jump knows precisely how many it missed.
public struct Tick: Sendable, Hashable {
    /// The largest seq a publisher may give (2^53 - 1): every seq stays exact in a JavaScript number,
    /// and the hub can number past any seq it accepted, and add up gaps, without overflowing.
    /// A larger one is refused (`BinaryTickCodec.DecodeError.seqOutOfRange`).
    public static let maxSeq: UInt64 = (1 << 53) - 1

    public var symbol: Symbol
    public var seq: UInt64
    public var timestamp: Timestamp
    public var body: TickBody

    public init(symbol: Symbol, seq: UInt64, timestamp: Timestamp, body: TickBody) {
        self.symbol = symbol
        self.seq = seq
        self.timestamp = timestamp
        self.body = body
    }
}

/// The current state of one symbol: the latest quote and trade, the seq of the latest update, and
/// the session's opening price. This is what a `snapshot` message and `GET /v1/snapshot` carry.
public struct SymbolSnapshot: Sendable, Hashable {
    public var symbol: Symbol
    public var seq: UInt64
    public var timestamp: Timestamp
    public var quote: Quote?
    public var lastTrade: Trade?
    /// The price of the first trade of the session (the hub's lifetime), so a client that joins late
    /// can still show "change since open".
    public var open: Price?
    /// High, low, volume and VWAP of the session's trades.
    public var session = SessionStatistics()
    /// The instrument's tick size, lot size, currency and name, once the feed said.
    public var details: InstrumentDetails?

    public init(
        symbol: Symbol, seq: UInt64 = 0, timestamp: Timestamp = Timestamp(nanosecondsSinceEpoch: 0),
        quote: Quote? = nil, lastTrade: Trade? = nil, open: Price? = nil
    ) {
        self.symbol = symbol
        self.seq = seq
        self.timestamp = timestamp
        self.quote = quote
        self.lastTrade = lastTrade
        self.open = open ?? lastTrade?.price
    }

    /// Folds a newer update into the snapshot.
    public mutating func apply(_ tick: Tick) {
        seq = tick.seq
        timestamp = tick.timestamp
        switch tick.body {
        case .quote(let q): quote = q
        case .trade(let t):
            lastTrade = t
            if open == nil { open = t.price }
            session.add(t)
        }
    }
}
