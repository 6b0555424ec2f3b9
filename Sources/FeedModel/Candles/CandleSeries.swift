/// The bars of one symbol at one interval, built from its trades: the open bar, and the last
/// `capacity` closed ones (older bars are let go, so memory per symbol and interval is fixed).
///
/// A bar exists only for an interval with trades, as exchanges' bar feeds do: a quiet minute has
/// none. Bars follow the trades' own timestamps, so two hubs fed the same trades (over NATS) cut the
/// same bars whatever their clocks. A late trade (stamped before the open bar) counts in the open
/// bar; one stamped in a bar already closed counts in the next, since a closed bar never changes
/// (clients were told it closed). Bars are always in order, one per start.
public struct CandleSeries: Sendable {
    public let interval: CandleInterval
    /// Closed bars kept.
    public let capacity: Int
    /// The bar still taking trades.
    public private(set) var openBar: Candle?
    /// Closed bars, a ring: `closedStart` is the oldest's index once it is full.
    private var closedBars: [Candle] = []
    private var closedStart = 0

    public init(interval: CandleInterval, capacity: Int) {
        precondition(capacity > 0, "a series keeps at least one closed bar")
        self.interval = interval
        self.capacity = capacity
    }

    /// Adds a trade. Returns the bar it closed, if it is the first trade of a later interval.
    @discardableResult
    public mutating func add(price: Price, size: Int64, at time: Timestamp) -> Candle? {
        var start = interval.start(of: time)
        guard var bar = openBar else {
            if let last = lastClosed, start <= last.start {
                start = end(of: last)
            }
            openBar = Candle(start: start, price: price, size: size)
            return nil
        }
        if start <= bar.start {
            bar.add(price: price, size: size)
            openBar = bar
            return nil
        }
        keep(bar)
        openBar = Candle(start: start, price: price, size: size)
        return bar
    }

    /// Closes the open bar if its interval has ended by `now` (a timer calls this, so a bar closes
    /// on time even when no trade follows it). Returns it.
    public mutating func closeIfEnded(now: Timestamp) -> Candle? {
        guard let bar = openBar, end(of: bar) <= now else {
            return nil
        }
        keep(bar)
        openBar = nil
        return bar
    }

    /// The last `limit` bars, oldest first, the open one last if there is one: what a chart
    /// backfills before it goes on live.
    public func last(_ limit: Int) -> [Candle] {
        guard limit > 0 else { return [] }
        var bars = closedInOrder
        if let openBar { bars.append(openBar) }
        return Array(bars.suffix(limit))
    }

    /// The newest closed bar.
    public var lastClosed: Candle? {
        guard !closedBars.isEmpty else { return nil }
        return closedBars[(closedStart + closedBars.count - 1) % closedBars.count]
    }

    /// How many closed bars are kept now (at most `capacity`).
    public var closedCount: Int { closedBars.count }

    /// Closed bars, oldest first.
    public var closedInOrder: [Candle] {
        Array(closedBars[closedStart...] + closedBars[..<closedStart])
    }

    /// When `bar`'s interval ends. Saturating: a publisher stamps the trades, and a time near the
    /// end of `UInt64` must not trap (its bar then never ends by the clock, only by a later trade).
    private func end(of bar: Candle) -> Timestamp {
        let (end, overflow) = bar.start.nanosecondsSinceEpoch.addingReportingOverflow(interval.nanoseconds)
        return Timestamp(nanosecondsSinceEpoch: overflow ? .max : end)
    }

    private mutating func keep(_ bar: Candle) {
        if closedBars.count < capacity {
            // Grown by doubling, but never past `capacity`: an array left to double on its own would
            // hold room for 512 bars to keep 300 (70% more memory per series at full history).
            if closedBars.count == closedBars.capacity {
                closedBars.reserveCapacity(min(capacity, max(8, closedBars.count * 2)))
            }
            closedBars.append(bar)
        } else {
            closedBars[closedStart] = bar
            closedStart = (closedStart + 1) % capacity
        }
    }
}
