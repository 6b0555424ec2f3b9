import FeedModel
import Testing

@Suite struct CandleSeriesTests {
    static let minute: UInt64 = 60_000_000_000
    static func at(_ seconds: UInt64) -> Timestamp {
        Timestamp(nanosecondsSinceEpoch: 1_800_000_000 * 1_000_000_000 + seconds * 1_000_000_000)
    }
    static func price(_ text: String) -> Price { Price(text)! }

    @Test func barsStartAtWholeIntervalsSinceTheEpoch() {
        let time = Timestamp(nanosecondsSinceEpoch: 3_600_000_000_000 * 500_000 + 61_500_000_000)
        #expect(
            CandleInterval.oneMinute.start(of: time).nanosecondsSinceEpoch == 3_600_000_000_000 * 500_000
                + 60_000_000_000)
        #expect(CandleInterval.oneHour.start(of: time).nanosecondsSinceEpoch == 3_600_000_000_000 * 500_000)
        #expect(
            CandleInterval.oneSecond.start(of: time).nanosecondsSinceEpoch == 3_600_000_000_000 * 500_000
                + 61_000_000_000)
        #expect(CandleInterval.fiveMinutes.start(of: time).nanosecondsSinceEpoch == 3_600_000_000_000 * 500_000)
    }

    @Test func aBarTakesOpenHighLowCloseVolumeAndCount() {
        var series = CandleSeries(interval: .oneMinute, capacity: 10)
        // 1_800_000_000 s is a whole minute: the first bar starts there.
        #expect(series.add(price: Self.price("10.00"), size: 100, at: Self.at(1)) == nil)
        series.add(price: Self.price("10.50"), size: 50, at: Self.at(20))
        series.add(price: Self.price("9.75"), size: 25, at: Self.at(40))
        series.add(price: Self.price("10.10"), size: 5, at: Self.at(59))
        let closed = series.add(price: Self.price("10.20"), size: 1, at: Self.at(61))
        #expect(
            closed
                == Candle(
                    start: Self.at(0), open: Self.price("10.00"), high: Self.price("10.50"), low: Self.price("9.75"),
                    close: Self.price("10.10"), volume: 180, trades: 4))
        #expect(series.openBar == Candle(start: Self.at(60), price: Self.price("10.20"), size: 1))
        #expect(series.last(5).map(\.start) == [Self.at(0), Self.at(60)])
    }

    @Test func aQuietIntervalHasNoBarAndATimerClosesTheOpenOne() {
        var series = CandleSeries(interval: .oneMinute, capacity: 10)
        series.add(price: Self.price("10.00"), size: 1, at: Self.at(5))
        #expect(series.closeIfEnded(now: Self.at(59)) == nil)
        #expect(series.closeIfEnded(now: Self.at(60))?.start == Self.at(0))
        #expect(series.openBar == nil)
        series.add(price: Self.price("10.00"), size: 1, at: Self.at(200))  // minutes 1 and 2 were quiet
        #expect(series.last(10).map(\.start) == [Self.at(0), Self.at(180)])
    }

    @Test func lateTradesNeverChangeAClosedBarOrBreakTheOrder() {
        var series = CandleSeries(interval: .oneMinute, capacity: 10)
        series.add(price: Self.price("10.00"), size: 1, at: Self.at(70))
        series.add(price: Self.price("11.00"), size: 2, at: Self.at(30))  // late: counts in the open bar
        #expect(series.openBar?.high == Self.price("11.00") && series.openBar?.trades == 2)
        let closed = series.closeIfEnded(now: Self.at(121))
        series.add(price: Self.price("12.00"), size: 3, at: Self.at(90))  // stamped in the closed bar
        #expect(series.lastClosed == closed)
        #expect(series.openBar?.start == Self.at(120))
        let starts = series.last(10).map(\.start.nanosecondsSinceEpoch)
        #expect(starts == starts.sorted() && Set(starts).count == starts.count)
    }

    @Test func onlyCapacityClosedBarsAreKept() {
        var series = CandleSeries(interval: .oneSecond, capacity: 3)
        for second in 0..<10 { series.add(price: Self.price("1.00"), size: 1, at: Self.at(UInt64(second))) }
        #expect(series.closedInOrder.map(\.start) == [Self.at(6), Self.at(7), Self.at(8)])
        #expect(series.last(2).map(\.start) == [Self.at(8), Self.at(9)])
        #expect(series.last(0).isEmpty)
    }

    @Test func volumeSaturatesAndNegativeSizesAddNothing() {
        var series = CandleSeries(interval: .oneHour, capacity: 1)
        series.add(price: Self.price("1.00"), size: .max, at: Self.at(1))
        series.add(price: Self.price("1.00"), size: .max, at: Self.at(2))
        series.add(price: Self.price("1.00"), size: -5, at: Self.at(3))
        #expect(series.openBar?.volume == .max)
        #expect(series.openBar?.trades == 3)
    }

    /// A publisher stamps trades: the last representable times neither trap nor break the order.
    @Test func timesAtTheEndOfTheClockDoNotTrap() {
        var series = CandleSeries(interval: .oneHour, capacity: 4)
        let last = Timestamp(nanosecondsSinceEpoch: .max)
        series.add(price: Self.price("1.00"), size: 1, at: last)
        series.add(price: Self.price("1.00"), size: 1, at: Self.at(0))  // late: into the open bar
        #expect(series.openBar?.trades == 2)
        #expect(series.closeIfEnded(now: last)?.trades == 2)  // its end saturates at the last time
        series.add(price: Self.price("1.00"), size: 1, at: Self.at(0))  // after a closed bar at the end
        let starts = series.last(4).map(\.start.nanosecondsSinceEpoch)
        #expect(starts == starts.sorted() && Set(starts).count == starts.count)
        var closedLate = CandleSeries(interval: .oneHour, capacity: 4)
        closedLate.add(price: Self.price("1.00"), size: 1, at: Timestamp(nanosecondsSinceEpoch: 0))
        _ = closedLate.closeIfEnded(now: last)
        closedLate.add(price: Self.price("2.00"), size: 1, at: Timestamp(nanosecondsSinceEpoch: 0))
        #expect(closedLate.openBar?.start == Timestamp(nanosecondsSinceEpoch: CandleInterval.oneHour.nanoseconds))
    }

    /// Two nodes fed the same trades build the same bars, whenever their close timers fire between
    /// trades of different intervals.
    @Test func theSameTradesGiveTheSameBars() {
        var generator = SeededGenerator(seed: 7)
        var trades: [(Price, Int64, Timestamp)] = []
        var second: UInt64 = 0
        for _ in 0..<5000 {
            second += generator.next() % 3
            trades.append(
                (
                    Price(mantissa: Int64(10_000 + generator.next() % 200), scale: 2),
                    Int64(generator.next() % 500 + 1), Self.at(second)
                ))
        }
        var quiet = CandleSeries(interval: .oneMinute, capacity: 1000)
        var timed = CandleSeries(interval: .oneMinute, capacity: 1000)
        for (price, size, time) in trades {
            quiet.add(price: price, size: size, at: time)
            _ = timed.closeIfEnded(now: time)  // a timer firing just before each trade
            timed.add(price: price, size: size, at: time)
        }
        #expect(quiet.last(1000) == timed.last(1000))
        #expect(quiet.last(1000).reduce(0) { $0 + $1.trades } == trades.count)
    }
}
