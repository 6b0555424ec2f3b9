/// What a screen needs to show an instrument: how its prices step, how its sizes step, what
/// currency it is quoted in, and its name. Set by the feed (the simulator, or a publisher's
/// instrument record); carried by `GET /v1/instruments` and every `snapshot`.
public struct InstrumentDetails: Sendable, Hashable {
    /// The smallest price step (`"0.0100"`): a screen shows prices with its decimals.
    public var tickSize: Price
    /// The smallest size step (a round lot).
    public var lotSize: Int64
    /// ISO 4217 style: 1 to 8 of `A-Z`.
    public var currency: String
    /// For people: 1 to 64 bytes of UTF-8, no control characters.
    public var name: String

    public static let maxNameBytes = 64
    public static let maxCurrencyBytes = 8

    /// Nil when a field is out of its bounds (a publisher sends these).
    public init?(tickSize: Price, lotSize: Int64, currency: String, name: String) {
        guard tickSize.mantissa > 0, lotSize > 0,
            (1...Self.maxCurrencyBytes).contains(currency.utf8.count),
            currency.utf8.allSatisfy({ (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0) }),
            (1...Self.maxNameBytes).contains(name.utf8.count),
            name.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value != 0x7F })
        else { return nil }
        self.tickSize = tickSize
        self.lotSize = lotSize
        self.currency = currency
        self.name = name
    }
}

/// A publisher's details of one symbol (`BinaryTickCodec`, kind 4).
public struct InstrumentRecord: Sendable, Hashable {
    public var symbol: Symbol
    public var details: InstrumentDetails

    public init(symbol: Symbol, details: InstrumentDetails) {
        self.symbol = symbol
        self.details = details
    }
}

/// The session's trading so far (the session is the hub's lifetime, or the feed's epoch): what a
/// screen shows beside the quote. Sizes add up saturating, and the VWAP is kept exactly (a 128-bit
/// sum of price × size at 9 decimals), since a publisher controls both.
public struct SessionStatistics: Sendable, Hashable {
    public private(set) var high: Price?
    public private(set) var low: Price?
    public private(set) var volume: Int64 = 0
    /// Σ price × size, prices at `turnoverScale` decimals.
    private var turnover: Int128 = 0
    private static let turnoverScale: UInt8 = 9

    public init() {}

    mutating func add(_ trade: Trade) {
        if high.map({ trade.price > $0 }) ?? true { high = trade.price }
        if low.map({ trade.price < $0 }) ?? true { low = trade.price }
        let size = max(trade.size, 0)
        let (sum, overflow) = volume.addingReportingOverflow(size)
        guard !overflow else {
            volume = .max  // saturated: the VWAP stops moving rather than lie
            return
        }
        volume = sum
        let price = Self.atTurnoverScale(trade.price)
        let (product, productOverflow) = price.multipliedReportingOverflow(by: Int128(size))
        let (total, totalOverflow) = turnover.addingReportingOverflow(product)
        if !productOverflow && !totalOverflow { turnover = total }
    }

    /// The volume-weighted average price, at `scale` decimals (rounded half away from zero).
    public func vwap(scale: UInt8) -> Price? {
        guard volume > 0, scale <= Self.turnoverScale else { return nil }
        let unit = Int128(Price.powerOfTen(Self.turnoverScale - scale))
        let divisor = Int128(volume) * unit
        var quotient = turnover / divisor
        let remainder = turnover % divisor
        if remainder.magnitude * 2 >= divisor.magnitude { quotient += turnover < 0 ? -1 : 1 }
        guard let mantissa = Int64(exactly: quotient) else { return nil }
        return Price(mantissa: mantissa, scale: scale)
    }

    private static func atTurnoverScale(_ price: Price) -> Int128 {
        if price.scale <= turnoverScale {
            return Int128(price.mantissa) * Int128(Price.powerOfTen(turnoverScale - price.scale))
        }
        return Int128(price.mantissa) / Int128(Price.powerOfTen(price.scale - turnoverScale))
    }
}
