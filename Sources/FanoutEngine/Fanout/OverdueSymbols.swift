import FeedModel

/// The symbols whose ring records a loop reached too late to send as themselves (later than
/// `DrainLimits.maxLag` after they were published): each is owed, once, its latest value to every
/// subscription on the loop. A set with insertion order, indexed by symbol, so marking a record is
/// O(1) and clearing costs only what was marked. Confined to the loop.
struct OverdueSymbols {
    private var marked: [Bool] = []
    private(set) var symbols: [SymbolID] = []

    var isEmpty: Bool { symbols.isEmpty }

    mutating func insert(_ id: SymbolID) {
        if id.index >= marked.count {
            marked.append(contentsOf: repeatElement(false, count: id.index + 1 - marked.count))
        }
        guard !marked[id.index] else { return }
        marked[id.index] = true
        symbols.append(id)
    }

    /// The marked symbols, in the order they were first marked; the set is empty afterwards.
    mutating func removeAll() -> [SymbolID] {
        let taken = symbols
        for id in taken { marked[id.index] = false }
        symbols.removeAll(keepingCapacity: true)
        return taken
    }
}
