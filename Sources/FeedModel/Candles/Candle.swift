/// A bar's length. Bars start at multiples of it since the Unix epoch (UTC): a 1m bar at each
/// whole minute, a 1h bar at each whole hour, so every node and every client cuts the same bars.
public enum CandleInterval: String, Sendable, Hashable, CaseIterable {
    case oneSecond = "1s"
    case oneMinute = "1m"
    case fiveMinutes = "5m"
    case oneHour = "1h"

    public var nanoseconds: UInt64 {
        switch self {
        case .oneSecond: 1_000_000_000
        case .oneMinute: 60_000_000_000
        case .fiveMinutes: 300_000_000_000
        case .oneHour: 3_600_000_000_000
        }
    }

    /// The start of the bar `time` falls in.
    public func start(of time: Timestamp) -> Timestamp {
        Timestamp(nanosecondsSinceEpoch: time.nanosecondsSinceEpoch - time.nanosecondsSinceEpoch % nanoseconds)
    }
}

/// One OHLC bar (a candle): the trades of one symbol in `[start, start + interval)`.
public struct Candle: Sendable, Hashable {
    public var start: Timestamp
    public var open: Price
    public var high: Price
    public var low: Price
    public var close: Price
    /// The sum of the trades' sizes, saturating at `Int64.max` (a publisher controls sizes).
    public var volume: Int64
    public var trades: Int

    /// The bar a trade opens.
    public init(start: Timestamp, price: Price, size: Int64) {
        self.start = start
        open = price
        high = price
        low = price
        close = price
        volume = max(size, 0)
        trades = 1
    }

    public init(start: Timestamp, open: Price, high: Price, low: Price, close: Price, volume: Int64, trades: Int) {
        self.start = start
        self.open = open
        self.high = high
        self.low = low
        self.close = close
        self.volume = volume
        self.trades = trades
    }

    mutating func add(price: Price, size: Int64) {
        if price > high { high = price }
        if price < low { low = price }
        close = price
        let (sum, overflow) = volume.addingReportingOverflow(max(size, 0))
        volume = overflow ? .max : sum
        trades = trades == .max ? .max : trades + 1
    }
}
