/// symbol → subscribers, for one event loop. Adding and removing are O(1) (swap-remove, with each
/// subscriber remembering its position in every list), so subscription churn never stalls fan-out.
///
/// Invariant (checked by `checkInvariants()` in tests): for every subscriber `s` and symbol `id`,
/// `s.positions[id] == p` exactly when `lists[id][p].subscriber === s`.
struct SubscriptionIndex {
    struct Entry {
        let subscriber: Subscriber
        /// Updates with `seq <= floor` are already covered by the snapshot sent on subscribe.
        var floor: UInt64
    }

    private(set) var lists: [ContiguousArray<Entry>] = []

    func entries(of id: SymbolID) -> ContiguousArray<Entry> {
        id.index < lists.count ? lists[id.index] : []
    }

    func hasSubscribers(_ id: SymbolID) -> Bool {
        id.index < lists.count && !lists[id.index].isEmpty
    }

    /// Adds the subscription; false if it already existed.
    mutating func add(_ subscriber: Subscriber, to id: SymbolID, floor: UInt64) -> Bool {
        guard subscriber.positions[id] == nil else { return false }
        if id.index >= lists.count {
            lists.append(contentsOf: repeatElement([], count: id.index + 1 - lists.count))
        }
        subscriber.positions[id] = lists[id.index].count
        lists[id.index].append(Entry(subscriber: subscriber, floor: floor))
        return true
    }

    /// Removes the subscription; false if there was none.
    mutating func remove(_ subscriber: Subscriber, from id: SymbolID) -> Bool {
        guard let position = subscriber.positions.removeValue(forKey: id) else { return false }
        let lastPosition = lists[id.index].count - 1
        if position != lastPosition {
            let moved = lists[id.index][lastPosition]
            lists[id.index][position] = moved
            moved.subscriber.positions[id] = position
        }
        lists[id.index].removeLast()
        return true
    }

    /// Removes every subscription of `subscriber`; returns how many there were.
    mutating func removeAll(_ subscriber: Subscriber) -> Int {
        let ids = Array(subscriber.positions.keys)
        for id in ids { _ = remove(subscriber, from: id) }
        return ids.count
    }

    var subscriptionCount: Int { lists.reduce(0) { $0 + $1.count } }

    func checkInvariants() {
        for (index, list) in lists.enumerated() {
            for (position, entry) in list.enumerated() {
                precondition(entry.subscriber.positions[SymbolID(UInt32(index))] == position, "position out of sync")
            }
        }
    }
}
