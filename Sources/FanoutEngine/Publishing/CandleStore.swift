import FeedModel
import Synchronization

/// Every symbol's OHLC bars at every `CandleInterval`, built from its trades, and the messages of its
/// candle streams. The publisher adds each batch's trades and closes ended bars on its loop;
/// `GET /v1/candles` reads the history from any thread. Both under one lock, which also holds each
/// stream's seq, so a history read carries the seq it is current at: a chart that subscribed first
/// merges the two by bar start without a gap.
///
/// Bounded: `capacity` closed bars per symbol and interval (older ones are let go), and a symbol
/// has series only once it trades.
public final class CandleStore: Sendable {
    /// One symbol's bars at one interval, and its stream.
    private struct Series {
        var bars: CandleSeries
        /// The stream's last seq: +1 per message.
        var seq: UInt64 = 0
        let stream: SymbolID
    }

    /// What one change gives one candle stream: its message, and its state after it.
    public struct Change: Sendable {
        public var stream: SymbolID
        public var update: CandleUpdate
        public var latest: CandleSnapshot
    }

    private struct State {
        /// By symbol index; the inner array parallel to `CandleInterval.allCases`.
        var series: [[Series]?] = []
        var symbols: [Symbol?] = []
    }

    private let state = Mutex(State())
    /// Closed bars kept per symbol and interval.
    public let capacity: Int
    /// How long after its end a bar is closed by the clock: a trade stamped within its interval that
    /// arrives this late still counts in it, so nodes fed the same trades over NATS cut the same bars.
    public let closeGrace: Duration

    public init(capacity: Int = 300, closeGrace: Duration = .milliseconds(250)) {
        precondition(capacity > 0)
        self.capacity = capacity
        self.closeGrace = closeGrace
    }

    /// Adds each trade of `ticks` to its symbol's bars; returns the changes, in order.
    func add(_ ticks: some Sequence<(SymbolID, Tick)>, directory: SymbolDirectory) -> [Change] {
        var changes: [Change] = []
        for (id, tick) in ticks {
            guard case .trade(let trade) = tick.body else { continue }
            // Stream ids before the lock: the directory has its own.
            guard
                let streams = state.withLock({ id.index < $0.series.count ? $0.series[id.index] : nil }).map({
                    $0.map(\.stream)
                })
                    ?? directory.candleStreams(of: id)
            else { continue }
            state.withLock { state in
                if id.index >= state.series.count {
                    state.series.append(contentsOf: repeatElement(nil, count: id.index + 1 - state.series.count))
                    state.symbols.append(contentsOf: repeatElement(nil, count: id.index + 1 - state.symbols.count))
                }
                if state.series[id.index] == nil {
                    state.series[id.index] = zip(CandleInterval.allCases, streams).map { interval, stream in
                        Series(bars: CandleSeries(interval: interval, capacity: capacity), stream: stream)
                    }
                    state.symbols[id.index] = tick.symbol
                }
                for position in state.series[id.index]!.indices {
                    let closed = state.series[id.index]![position].bars.add(
                        price: trade.price, size: trade.size, at: tick.timestamp)
                    if let closed {
                        changes.append(
                            Self.message(&state.series[id.index]![position], tick.symbol, closed, closed: true))
                    }
                    let open = state.series[id.index]![position].bars.openBar!
                    changes.append(Self.message(&state.series[id.index]![position], tick.symbol, open, closed: false))
                }
            }
        }
        return changes
    }

    /// Closes every open bar whose interval ended by `now - closeGrace`; returns the changes.
    func closeEnded(now: Timestamp) -> [Change] {
        let grace = UInt64(closeGrace / .nanoseconds(1))
        let cutoff = Timestamp(
            nanosecondsSinceEpoch: now.nanosecondsSinceEpoch > grace ? now.nanosecondsSinceEpoch - grace : 0)
        return state.withLock { state in
            var changes: [Change] = []
            for index in state.series.indices {
                guard state.series[index] != nil, let symbol = state.symbols[index] else { continue }
                for position in state.series[index]!.indices {
                    if let closed = state.series[index]![position].bars.closeIfEnded(now: cutoff) {
                        changes.append(Self.message(&state.series[index]![position], symbol, closed, closed: true))
                    }
                }
            }
            return changes
        }
    }

    /// The last `limit` bars of `symbolID` at `interval`, oldest first (the open one last), with the
    /// stream's seq; an empty snapshot at seq 0 before its first trade.
    public func history(of symbolID: SymbolID, symbol: Symbol, interval: CandleInterval, limit: Int) -> CandleSnapshot {
        state.withLock { state in
            guard symbolID.index < state.series.count, let all = state.series[symbolID.index],
                let series = all.first(where: { $0.bars.interval == interval })
            else {
                return CandleSnapshot(symbol: symbol, interval: interval)
            }
            var bars = series.bars.last(limit)
            let open = series.bars.openBar != nil ? bars.popLast() : nil
            return CandleSnapshot(symbol: symbol, interval: interval, seq: series.seq, closed: bars, open: open)
        }
    }

    /// Forgets every bar (a feed's new epoch: its trades start again).
    func removeAll() {
        state.withLock { state in
            state.series = state.series.map { _ in nil }
        }
    }

    /// Bars held, across symbols and intervals (for the memory figures).
    public var barCount: Int {
        state.withLock { state in
            state.series.reduce(0) { total, series in
                total + (series?.reduce(0) { $0 + $1.bars.closedCount + ($1.bars.openBar == nil ? 0 : 1) } ?? 0)
            }
        }
    }

    private static func message(_ series: inout Series, _ symbol: Symbol, _ bar: Candle, closed: Bool) -> Change {
        series.seq += 1
        let lastClosed = series.bars.lastClosed
        return Change(
            stream: series.stream,
            update: CandleUpdate(
                symbol: symbol, interval: series.bars.interval, seq: series.seq, bar: bar, closed: closed),
            latest: CandleSnapshot(
                symbol: symbol, interval: series.bars.interval, seq: series.seq,
                closed: lastClosed.map { [$0] } ?? [], open: series.bars.openBar))
    }
}
