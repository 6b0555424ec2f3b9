import FeedModel
import Synchronization

/// The symbols this hub publishes, and the streams of each, with their ids. Shared by every thread;
/// writes are rare (a symbol is registered once, at start-up in simulated mode or on first sight in
/// ingest mode; its book and candle streams on their first update or subscription).
///
/// A stream is what the fan-out delivers and numbers on its own (`StreamKind`): a symbol's quotes
/// and trades (whose id is "the symbol's id"), its order book at one of `OrderBook.depths`, or its
/// bars at one of the `CandleInterval`s. Every stream has an id from one dense range, so the
/// publisher's seqs, the last-value cache and every loop's subscription index serve them all with
/// array lookups, and the ring, conflation and drop counting work on every kind alike.
public final class SymbolDirectory: Sendable {
    private struct Stream {
        var symbol: Symbol
        var kind: StreamKind
    }

    private struct State {
        /// Every stream, by id.
        var streams: [Stream] = []
        /// The symbols' own (quotes and trades) ids, in registration order: rising.
        var symbolIDs: [SymbolID] = []
        var ids: [Symbol: SymbolID] = [:]
        /// A symbol's book streams, parallel to `OrderBook.depths`, by the symbol's id.
        var bookStreams: [SymbolID: [SymbolID]] = [:]
        /// A symbol's candle streams, parallel to `CandleInterval.allCases`, by the symbol's id.
        var candleStreams: [SymbolID: [SymbolID]] = [:]
        /// A symbol's `quotes` and `trades` streams, by the symbol's id.
        var channelStreams: [SymbolID: [SymbolID]] = [:]
    }

    private let state = Mutex(State())
    /// Told of every symbol added, after it is (on the registering thread).
    private let observers = Mutex<[@Sendable (Symbol) -> Void]>([])
    /// A cap on distinct symbols, so a publisher cannot grow the hub's memory without bound. (Book
    /// streams are at most `OrderBook.depths.count` per symbol, so they are bounded with it.)
    public let capacity: Int

    public init(capacity: Int = 100_000) {
        self.capacity = capacity
    }

    /// The id of `symbol`, registering it if new. Nil when the directory is full.
    public func register(_ symbol: Symbol) -> SymbolID? {
        register(symbol, mayAdd: true)?.id
    }

    /// The id of `symbol`, and whether this call added it. A new symbol is added only if `mayAdd`
    /// (the caller's own quota) and the directory has room; otherwise nil.
    public func register(_ symbol: Symbol, mayAdd: Bool) -> (id: SymbolID, isNew: Bool)? {
        let registered: (id: SymbolID, isNew: Bool)? = state.withLock { state in
            if let id = state.ids[symbol] { return (id, false) }
            guard mayAdd, state.symbolIDs.count < capacity else { return nil }
            let id = SymbolID(UInt32(state.streams.count))
            state.streams.append(Stream(symbol: symbol, kind: .ticks))
            state.symbolIDs.append(id)
            state.ids[symbol] = id
            return (id, true)
        }
        if registered?.isNew == true {
            for observer in observers.withLock({ $0 }) { observer(symbol) }
        }
        return registered
    }

    /// Calls `observer` with every symbol added from now on, on the thread that adds it, after it
    /// is registered (so it can be resolved). Observers are for the life of the directory.
    public func onNewSymbol(_ observer: @escaping @Sendable (Symbol) -> Void) {
        observers.withLock { $0.append(observer) }
    }

    /// The ids of the book streams of the symbol with id `symbolID`, parallel to `OrderBook.depths`,
    /// made on first use; nil if `symbolID` is not a symbol's.
    public func bookStreams(of symbolID: SymbolID) -> [SymbolID]? {
        streams(of: symbolID, in: \.bookStreams, kinds: OrderBook.depths.map(StreamKind.book))
    }

    /// The ids of the candle streams of the symbol with id `symbolID`, parallel to
    /// `CandleInterval.allCases`, made on first use; nil if `symbolID` is not a symbol's.
    public func candleStreams(of symbolID: SymbolID) -> [SymbolID]? {
        streams(of: symbolID, in: \.candleStreams, kinds: CandleInterval.allCases.map(StreamKind.candles))
    }

    /// The ids of the `quotes` and `trades` streams of the symbol with id `symbolID` (in that order),
    /// made on first use; nil if `symbolID` is not a symbol's.
    public func channelStreams(of symbolID: SymbolID) -> [SymbolID]? {
        streams(of: symbolID, in: \.channelStreams, kinds: [.quotes, .trades])
    }

    /// The kinds of many streams under one lock (nil for an unknown id).
    public func kinds(of ids: some Sequence<SymbolID>) -> [StreamKind?] {
        state.withLock { state in ids.map { $0.index < state.streams.count ? state.streams[$0.index].kind : nil } }
    }

    public func candleStream(of symbolID: SymbolID, interval: CandleInterval) -> SymbolID? {
        candleStreams(of: symbolID)?[CandleInterval.allCases.firstIndex(of: interval)!]
    }

    private func streams(
        of symbolID: SymbolID, in table: WritableKeyPath<State, [SymbolID: [SymbolID]]>,
        kinds: [StreamKind]
    ) -> [SymbolID]? {
        state.withLock { state in
            if let streams = state[keyPath: table][symbolID] { return streams }
            guard symbolID.index < state.streams.count, state.streams[symbolID.index].kind == .ticks else { return nil }
            let symbol = state.streams[symbolID.index].symbol
            let streams = kinds.map { kind in
                state.streams.append(Stream(symbol: symbol, kind: kind))
                return SymbolID(UInt32(state.streams.count - 1))
            }
            state[keyPath: table][symbolID] = streams
            return streams
        }
    }

    /// The id of the book stream of `symbolID` at `depth` (one of `OrderBook.depths`).
    public func bookStream(of symbolID: SymbolID, depth: Int) -> SymbolID? {
        guard let position = OrderBook.depths.firstIndex(of: depth) else { return nil }
        return bookStreams(of: symbolID)?[position]
    }

    /// What stream `id` carries; nil for an unknown id.
    public func kind(of id: SymbolID) -> StreamKind? {
        state.withLock { id.index < $0.streams.count ? $0.streams[id.index].kind : nil }
    }

    /// The book depth of stream `id`; nil for any other kind (or an unknown id).
    public func bookDepth(of id: SymbolID) -> Int? {
        if case .book(let depth) = kind(of: id) { depth } else { nil }
    }

    public func id(of name: String) -> SymbolID? {
        guard let symbol = Symbol(name) else { return nil }
        return state.withLock { $0.ids[symbol] }
    }

    /// Resolves many names under one lock; unknown or invalid names come back in `unknown`.
    public func resolve(_ names: [String]) -> (known: [(String, SymbolID)], unknown: [String]) {
        state.withLock { state in
            var known: [(String, SymbolID)] = []
            var unknown: [String] = []
            for name in names {
                if let symbol = Symbol(name), let id = state.ids[symbol] {
                    known.append((name, id))
                } else {
                    unknown.append(name)
                }
            }
            return (known, unknown)
        }
    }

    /// Up to `limit` symbols in registration order, starting after the symbol `after` (from the
    /// first when nil), and whether more follow. Registration order is stable (symbols are never
    /// removed), so paging through it while symbols are added misses none that existed when it started.
    public func page(after: SymbolID?, limit: Int) -> (symbols: [Symbol], more: Bool) {
        state.withLock { state in
            var start = 0
            if let after {
                // Ids rise in registration order: the first symbol past `after`.
                var high = state.symbolIDs.count
                while start < high {
                    let middle = (start + high) / 2
                    if state.symbolIDs[middle] <= after { start = middle + 1 } else { high = middle }
                }
            }
            guard start < state.symbolIDs.count else { return ([], false) }
            let end = min(start + limit, state.symbolIDs.count)
            return (state.symbolIDs[start..<end].map { state.streams[$0.index].symbol }, end < state.symbolIDs.count)
        }
    }

    /// The symbol of stream `id` (its quotes and trades, or one of its books).
    public func symbol(for id: SymbolID) -> Symbol? {
        state.withLock { id.index < $0.streams.count ? $0.streams[id.index].symbol : nil }
    }

    public var allSymbols: [Symbol] {
        state.withLock { state in state.symbolIDs.map { state.streams[$0.index].symbol } }
    }
    /// The symbols' own ids (quotes and trades), in registration order.
    public var allSymbolIDs: [SymbolID] { state.withLock { $0.symbolIDs } }
    /// How many symbols (not streams).
    public var count: Int { state.withLock { $0.symbolIDs.count } }
}
