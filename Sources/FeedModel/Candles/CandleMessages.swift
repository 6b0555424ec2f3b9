import NIOCore

/// A change to one bar of a (symbol, interval) candle stream: the open bar after a trade, or a bar
/// that just closed (`closed`), which is sent once more then and never changes again.
///
/// `seq` counts the messages of the stream: each is the previous + 1, so a jump shows what a client
/// missed (a slow one gets a `candles` message in their place, with the last closed bar and the
/// open one).
public struct CandleUpdate: Sendable, Hashable {
    public var symbol: Symbol
    public var interval: CandleInterval
    public var seq: UInt64
    public var bar: Candle
    public var closed: Bool

    public init(symbol: Symbol, interval: CandleInterval, seq: UInt64, bar: Candle, closed: Bool) {
        self.symbol = symbol
        self.interval = interval
        self.seq = seq
        self.bar = bar
        self.closed = closed
    }
}

/// Bars of one (symbol, interval) stream at its `seq`: the closed ones oldest first, then the open
/// one. A subscription starts with the last closed bar and the open one; `GET /v1/candles` sends up
/// to `limit` of them. Bars are keyed by `start`: a later message for the same start replaces it.
public struct CandleSnapshot: Sendable, Hashable {
    public var symbol: Symbol
    public var interval: CandleInterval
    public var seq: UInt64
    public var closed: [Candle]
    public var open: Candle?

    public init(symbol: Symbol, interval: CandleInterval, seq: UInt64 = 0, closed: [Candle] = [], open: Candle? = nil) {
        self.symbol = symbol
        self.interval = interval
        self.seq = seq
        self.closed = closed
        self.open = open
    }
}

extension JSONWriter {
    mutating func candleUpdateFields(_ update: CandleUpdate) {
        field("symbol", update.symbol.name)
        field("interval", update.interval.rawValue)
        field("seq", update.seq)
        barFields(update.bar, closed: update.closed)
    }

    /// The fields of a `candles` message after `"type"`, shared with `GET /v1/candles`.
    public mutating func candleSnapshotFields(_ snapshot: CandleSnapshot) {
        field("symbol", snapshot.symbol.name)
        field("interval", snapshot.interval.rawValue)
        field("seq", snapshot.seq)
        beginArray(key: "bars")
        for bar in snapshot.closed {
            beginObject()
            barFields(bar, closed: true)
            endObject()
        }
        if let open = snapshot.open {
            beginObject()
            barFields(open, closed: false)
            endObject()
        }
        endArray()
    }

    /// `start` is nanoseconds since the Unix epoch, like `ts`; prices are strings, volume an integer.
    private mutating func barFields(_ bar: Candle, closed: Bool) {
        field("start", bar.start.nanosecondsSinceEpoch)
        field("open", bar.open)
        field("high", bar.high)
        field("low", bar.low)
        field("close", bar.close)
        field("volume", bar.volume)
        field("trades", bar.trades)
        field("closed", closed)
    }
}
