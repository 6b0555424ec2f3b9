import FeedModel
import Synchronization

/// The latest state of every symbol: for snapshots (`subscribe`, `GET /v1/snapshot`), and for the
/// latest values the fan-out sends in place of skipped updates (catch-up, resync after a lap,
/// overdue symbols, throttled releases; `LatestValueFrames`). With a history depth, also each
/// symbol's last updates, which a reconnecting client can recover (`SymbolHistory`).
///
/// The publisher updates it once per batch, *before* writing the batch to the ring. A subscriber that
/// takes a snapshot with seq N therefore never misses an update above N: those are still ahead of
/// its loop's ring cursor, and the ones at or below N are skipped by their seq. A recovery is read
/// under the same lock as its snapshot, so the replay ends exactly where the ring takes over.
public final class LastValueCache: Sendable {
    private struct Symbols {
        var snapshots: [SymbolSnapshot?] = []
        var histories: [SymbolHistory?] = []
        /// By book stream id (`SymbolDirectory.bookStreams`). The snapshots of one symbol's depths
        /// share one book's storage, so a book costs its levels once however many depths it has.
        var books: [BookSnapshot?] = []
        /// By candle stream id: the last closed bar and the open one.
        var candles: [CandleSnapshot?] = []
        /// Symbols `starts` has read: the work subscribes cost under the publisher's lock (tests).
        var startsRead = 0
    }

    private let symbols = Mutex(Symbols())
    /// Updates kept per symbol for recovery; 0 keeps none.
    public let historyDepth: Int

    public init(historyDepth: Int = 0) {
        precondition(historyDepth >= 0)
        self.historyDepth = historyDepth
    }

    public func apply(_ ticks: some Sequence<(SymbolID, Tick)>) {
        let depth = historyDepth
        symbols.withLock { symbols in
            for (id, tick) in ticks {
                if id.index >= symbols.snapshots.count {
                    let missing = id.index + 1 - symbols.snapshots.count
                    symbols.snapshots.append(contentsOf: repeatElement(nil, count: missing))
                    if depth > 0 { symbols.histories.append(contentsOf: repeatElement(nil, count: missing)) }
                }
                if symbols.snapshots[id.index] == nil {
                    symbols.snapshots[id.index] = SymbolSnapshot(symbol: tick.symbol)
                }
                symbols.snapshots[id.index]!.apply(tick)
                if depth > 0 {
                    if symbols.histories[id.index] == nil { symbols.histories[id.index] = SymbolHistory(depth: depth) }
                    symbols.histories[id.index]!.append(tick)
                }
            }
        }
    }

    /// Records each book stream's latest state (the publisher, once per batch, before the ring).
    public func applyBooks(_ books: some Sequence<(SymbolID, BookSnapshot)>) {
        symbols.withLock { symbols in
            for (id, book) in books { Self.store(book, at: id, in: &symbols.books) }
        }
    }

    /// Keeps `value` as stream `id`'s, growing the table to it.
    private static func store<Value>(_ value: Value, at id: SymbolID, in table: inout [Value?]) {
        if id.index >= table.count { table.append(contentsOf: repeatElement(nil, count: id.index + 1 - table.count)) }
        table[id.index] = value
    }

    /// Sets each stream's instrument details, keeping its values (a stream with none yet gets an
    /// empty snapshot at seq 0 that carries them).
    public func setDetails(_ details: some Sequence<(SymbolID, Symbol, InstrumentDetails)>) {
        symbols.withLock { symbols in
            for (id, symbol, instrument) in details {
                if id.index >= symbols.snapshots.count {
                    let missing = id.index + 1 - symbols.snapshots.count
                    symbols.snapshots.append(contentsOf: repeatElement(nil, count: missing))
                    if historyDepth > 0 { symbols.histories.append(contentsOf: repeatElement(nil, count: missing)) }
                }
                if symbols.snapshots[id.index] == nil { symbols.snapshots[id.index] = SymbolSnapshot(symbol: symbol) }
                symbols.snapshots[id.index]!.details = instrument
            }
        }
    }

    /// Records each candle stream's latest state (the publisher, before the ring).
    public func applyCandles(_ changes: some Sequence<(SymbolID, CandleSnapshot)>) {
        symbols.withLock { symbols in
            for (id, latest) in changes { Self.store(latest, at: id, in: &symbols.candles) }
        }
    }

    /// Forgets every value and history (a feed's new epoch: their seqs belong to the old one).
    public func removeAll() {
        symbols.withLock { symbols in
            symbols.snapshots = symbols.snapshots.map { _ in nil }
            symbols.histories = symbols.histories.map { _ in nil }
            symbols.books = symbols.books.map { _ in nil }
            symbols.candles = symbols.candles.map { _ in nil }
        }
    }

    /// The latest state of book stream `id`; nil before its first update.
    public func book(of id: SymbolID) -> BookSnapshot? {
        symbols.withLock { id.index < $0.books.count ? $0.books[id.index] : nil }
    }

    /// The latest state of stream `id`, whichever kind it is: what a subscriber that skipped its
    /// updates is sent instead (`LatestValueFrames`).
    public enum Latest {
        case symbol(SymbolSnapshot)
        case book(BookSnapshot)
        case candles(CandleSnapshot)

        public var seq: UInt64 {
            switch self {
            case .symbol(let snapshot): snapshot.seq
            case .book(let book): book.seq
            case .candles(let candles): candles.seq
            }
        }
    }

    public func latest(of id: SymbolID) -> Latest? {
        symbols.withLock { symbols in
            if id.index < symbols.snapshots.count, let snapshot = symbols.snapshots[id.index] {
                return .symbol(snapshot)
            }
            if id.index < symbols.books.count, let book = symbols.books[id.index] { return .book(book) }
            if id.index < symbols.candles.count, let candles = symbols.candles[id.index] { return .candles(candles) }
            return nil
        }
    }

    /// How many symbols have a value.
    public var valuedCount: Int {
        symbols.withLock { $0.snapshots.reduce(0) { $0 + (($1?.seq ?? 0) > 0 ? 1 : 0) } }
    }

    /// How many symbols `starts` has read so far.
    var startsRead: Int { symbols.withLock { $0.startsRead } }

    public func snapshot(of id: SymbolID) -> SymbolSnapshot? {
        symbols.withLock { id.index < $0.snapshots.count ? $0.snapshots[id.index] : nil }
    }

    public func snapshots(of ids: [SymbolID]) -> [SymbolSnapshot?] {
        symbols.withLock { symbols in ids.map { $0.index < symbols.snapshots.count ? symbols.snapshots[$0.index] : nil }
        }
    }

    /// For each of `ids`, its snapshot and, where `resumingAfter` gives the seq a client holds and
    /// the history still has every update after it, those updates (nil otherwise). `replayLimit`
    /// caps the updates replayed for one request: past it, symbols get snapshots, so one subscribe
    /// cannot queue an unbounded burst for its connection, nor make the publisher wait on this lock
    /// while it copies one: the copying stops at the limit.
    /// A book or candle stream's snapshot comes back as its `Latest`, never with a replay.
    public func starts(of ids: [SymbolID], resumingAfter seqs: [UInt64?], replayLimit: Int) -> [(Latest?, [Tick]?)] {
        precondition(ids.count == seqs.count)
        return symbols.withLock { symbols in
            symbols.startsRead += ids.count
            var budget = replayLimit
            return zip(ids, seqs).map { id, seq -> (Latest?, [Tick]?) in
                if id.index < symbols.books.count, let book = symbols.books[id.index] { return (.book(book), nil) }
                if id.index < symbols.candles.count, let candles = symbols.candles[id.index] {
                    return (.candles(candles), nil)
                }
                let snapshot = id.index < symbols.snapshots.count ? symbols.snapshots[id.index] : nil
                guard let seq else { return (snapshot.map(Latest.symbol), nil) }
                let latest = snapshot?.seq ?? 0
                let history = id.index < symbols.histories.count ? symbols.histories[id.index] : nil
                let missed = seq == latest ? [] : history?.updates(after: seq, latest: latest, limit: budget)
                guard let missed else { return (snapshot.map(Latest.symbol), nil) }
                budget -= missed.count
                return (snapshot.map(Latest.symbol), missed)
            }
        }
    }
}
