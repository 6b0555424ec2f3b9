import FeedModel
import Synchronization

/// The symbols this hub publishes, with their ids. Shared by every thread; writes are rare (a symbol
/// is registered once, at start-up in simulated mode or on first sight in ingest mode).
public final class SymbolDirectory: Sendable {
    private struct State {
        var symbols: [Symbol] = []
        var ids: [Symbol: SymbolID] = [:]
    }

    private let state = Mutex(State())
    /// A cap on distinct symbols, so a publisher cannot grow the hub's memory without bound.
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
        state.withLock { state in
            if let id = state.ids[symbol] { return (id, false) }
            guard mayAdd, state.symbols.count < capacity else { return nil }
            let id = SymbolID(UInt32(state.symbols.count))
            state.symbols.append(symbol)
            state.ids[symbol] = id
            return (id, true)
        }
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
                if let symbol = Symbol(name), let id = state.ids[symbol] { known.append((name, id)) } else { unknown.append(name) }
            }
            return (known, unknown)
        }
    }

    /// Up to `limit` symbols in registration order, starting after `after` (from the first when nil),
    /// and whether more follow. Registration order is stable (symbols are never removed), so paging
    /// through it while symbols are added misses none that existed when it started.
    public func page(after: SymbolID?, limit: Int) -> (symbols: ArraySlice<Symbol>, more: Bool) {
        state.withLock { state in
            let start = after.map { $0.index + 1 } ?? 0
            guard start < state.symbols.count else { return ([], false) }
            let end = min(start + limit, state.symbols.count)
            return (state.symbols[start..<end], end < state.symbols.count)
        }
    }

    public func symbol(for id: SymbolID) -> Symbol? {
        state.withLock { id.index < $0.symbols.count ? $0.symbols[id.index] : nil }
    }

    public var allSymbols: [Symbol] { state.withLock { $0.symbols } }
    public var count: Int { state.withLock { $0.symbols.count } }
}
