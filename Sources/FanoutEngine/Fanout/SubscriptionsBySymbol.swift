import FeedModel

/// One subscriber's subscriptions, by symbol: an array sorted by symbol id, looked up by binary
/// search. A connection holds up to `--max-symbols` of them (usually tens), and looks one up only
/// when it subscribes, unsubscribes or closes, never per update; a sorted array costs 8 bytes a
/// subscription where a `Dictionary` cost ~25, across every connection.
struct SubscriptionsBySymbol {
    private var sorted: ContiguousArray<Subscription> = []

    var count: Int { sorted.count }
    var values: ContiguousArray<Subscription> { sorted }
    var keys: [SymbolID] { sorted.map(\.symbolID) }

    subscript(id: SymbolID) -> Subscription? {
        let at = insertionPoint(of: id)
        return at < sorted.count && sorted[at].symbolID == id ? sorted[at] : nil
    }

    /// Adds `subscription` (whose symbol is not here yet).
    mutating func insert(_ subscription: Subscription) {
        let at = insertionPoint(of: subscription.symbolID)
        precondition(at == sorted.count || sorted[at].symbolID != subscription.symbolID, "one subscription per symbol")
        sorted.insert(subscription, at: at)
    }

    mutating func removeValue(forKey id: SymbolID) -> Subscription? {
        let at = insertionPoint(of: id)
        guard at < sorted.count, sorted[at].symbolID == id else { return nil }
        return sorted.remove(at: at)
    }

    /// The first index whose symbol id is not below `id`.
    private func insertionPoint(of id: SymbolID) -> Int {
        var low = 0, high = sorted.count
        while low < high {
            let middle = (low + high) / 2
            if sorted[middle].symbolID.rawValue < id.rawValue { low = middle + 1 } else { high = middle }
        }
        return low
    }
}
