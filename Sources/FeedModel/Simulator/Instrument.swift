/// A listed instrument in the simulated market: its ticker and the price it opens at.
public struct Instrument: Sendable, Hashable {
    public var symbol: Symbol
    /// Opening price, with the instrument's quoting scale.
    public var openingPrice: Price
    /// Minimum price increment, as a mantissa at `openingPrice.scale`.
    public var tickSize: Int64

    public init(symbol: Symbol, openingPrice: Price, tickSize: Int64) {
        self.symbol = symbol
        self.openingPrice = openingPrice
        self.tickSize = tickSize
    }

    /// What the simulated feed says of it: its tick size, round lots of 100, US dollars, and its
    /// ticker for a name (the universe is made up).
    public var details: InstrumentDetails {
        InstrumentDetails(
            tickSize: Price(mantissa: tickSize, scale: openingPrice.scale), lotSize: 100, currency: "USD",
            name: symbol.name)!
    }
}

/// The default simulated universe: well-known US tickers first (they are also the busiest), then
/// generated three- and four-letter tickers until the requested count.
public enum SymbolUniverse {
    /// Every price is quoted with 4 decimals, as in the protocol examples (`"189.1200"`).
    public static let quotingScale: UInt8 = 4

    /// Tickers with roughly realistic price levels, in dollars.
    static let wellKnown: [(String, Int64)] = [
        ("AAPL", 189), ("MSFT", 415), ("NVDA", 121), ("AMZN", 185), ("GOOGL", 172), ("META", 505),
        ("TSLA", 248), ("BRK.B", 410), ("AVGO", 165), ("JPM", 205), ("LLY", 780), ("V", 275),
        ("UNH", 520), ("XOM", 118), ("MA", 465), ("JNJ", 155), ("PG", 166), ("HD", 365),
        ("COST", 860), ("ABBV", 175), ("MRK", 118), ("ORCL", 140), ("CVX", 155), ("KO", 63),
        ("PEP", 168), ("BAC", 39), ("ADBE", 520), ("CRM", 265), ("NFLX", 640), ("AMD", 160),
        ("TMO", 580), ("WMT", 68), ("MCD", 260), ("CSCO", 47), ("ACN", 330), ("ABT", 108),
        ("LIN", 450), ("DHR", 255), ("INTC", 31), ("DIS", 102), ("WFC", 59), ("QCOM", 190),
        ("TXN", 195), ("VZ", 40), ("INTU", 640), ("CMCSA", 39), ("AMGN", 310), ("PFE", 28),
        ("IBM", 185), ("NKE", 94), ("PM", 98), ("UNP", 235), ("GE", 160), ("SPGI", 430),
        ("CAT", 345), ("RTX", 105), ("HON", 205), ("LOW", 225), ("AMAT", 210), ("BA", 180),
        ("GS", 460), ("NEE", 72), ("T", 17), ("ELV", 530), ("BKNG", 3600), ("SBUX", 80),
        ("PLD", 112), ("BLK", 790), ("MDT", 82), ("DE", 380), ("MS", 98), ("ISRG", 400),
        ("GILD", 68), ("ADP", 245), ("LMT", 465), ("TJX", 100), ("MDLZ", 68), ("SYK", 340),
        ("C", 62), ("ADI", 230), ("VRTX", 480), ("REGN", 1000), ("MMC", 210), ("CVS", 58),
        ("SCHW", 73), ("ZTS", 170), ("PGR", 210), ("CB", 260), ("SO", 77), ("MO", 45),
        ("BMY", 42), ("ETN", 330), ("BSX", 76), ("CI", 340), ("LRCX", 950), ("MU", 128),
        ("PANW", 320), ("SNPS", 570), ("KLAC", 800), ("UBER", 72), ("ABNB", 150), ("SHOP", 66),
        ("PYPL", 62), ("SQ", 70), ("COIN", 225), ("PLTR", 25), ("SNOW", 150), ("F", 12),
        ("GM", 46), ("RIVN", 14), ("SPY", 545), ("QQQ", 480), ("IWM", 205), ("DIA", 395),
    ]

    /// The first `count` instruments of the universe for `seed`. Deterministic.
    public static func instruments(count: Int, seed: UInt64) -> [Instrument] {
        var generator = SeededGenerator(seed: seed ^ 0x5359_4D42_4F4C_53)  // "SYMBOLS": independent of the walk
        var result: [Instrument] = []
        result.reserveCapacity(count)
        var used = Set<String>()
        let unit = Price.powerOfTen(quotingScale)
        for (name, dollars) in wellKnown.prefix(count) {
            used.insert(name)
            result.append(
                Instrument(
                    symbol: Symbol(name)!, openingPrice: Price(mantissa: dollars * unit, scale: quotingScale),
                    tickSize: unit / 100))
        }
        let letters = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ".utf8)
        while result.count < count {
            let length = generator.nextUnit() < 0.4 ? 3 : 4
            let name = String(decoding: (0..<length).map { _ in letters[Int(generator.next() % 26)] }, as: UTF8.self)
            guard used.insert(name).inserted else { continue }
            // Log-uniform opening price between $2 and $400, in whole cents.
            let dollars = 2 * _exp(generator.nextUnit() * _log(200))
            let cents = Int64(dollars * 100)
            result.append(
                Instrument(
                    symbol: Symbol(name)!, openingPrice: Price(mantissa: cents * (unit / 100), scale: quotingScale),
                    tickSize: unit / 100))
        }
        return result
    }
}

extension SymbolUniverse {
    /// Instruments for the given tickers: well-known ones open at their usual price level, others at a
    /// price derived from the seed and the name. Deterministic.
    public static func instruments(named symbols: [Symbol], seed: UInt64) -> [Instrument] {
        let unit = Price.powerOfTen(quotingScale)
        let known = Dictionary(wellKnown.map { ($0.0, $0.1) }, uniquingKeysWith: { first, _ in first })
        return symbols.map { symbol in
            if let dollars = known[symbol.name] {
                return Instrument(
                    symbol: symbol, openingPrice: Price(mantissa: dollars * unit, scale: quotingScale),
                    tickSize: unit / 100)
            }
            var nameHash = seed
            for byte in symbol.name.utf8 { nameHash = (nameHash ^ UInt64(byte)) &* 0x100_0000_01B3 }
            var generator = SeededGenerator(seed: nameHash)
            let cents = Int64(2 * _exp(generator.nextUnit() * _log(200)) * 100)
            return Instrument(
                symbol: symbol, openingPrice: Price(mantissa: cents * (unit / 100), scale: quotingScale),
                tickSize: unit / 100)
        }
    }
}
