/// symbol → subscriptions, for one event loop. Adding and removing are O(1) (swap-remove, with each
/// subscription remembering its position in its symbol's list), so subscription churn never stalls
/// fan-out.
///
/// Invariant (checked by `checkInvariants()` in tests): every subscription in `lists[id]` sits at its
/// own `position`, has `symbolID == id`, and is its subscriber's subscription for `id`; and every
/// subscriber's subscriptions are in the index.
struct SubscriptionIndex {
    private(set) var lists: [ContiguousArray<Subscription>] = []

    func subscriptions(of id: SymbolID) -> ContiguousArray<Subscription> {
        id.index < lists.count ? lists[id.index] : []
    }

    func hasSubscribers(_ id: SymbolID) -> Bool {
        id.index < lists.count && !lists[id.index].isEmpty
    }

    /// Adds the subscription, with `lastSentSeq` already covered (by the snapshot the caller sends);
    /// nil if it already existed.
    mutating func add(_ subscriber: Subscriber, to id: SymbolID, lastSentSeq: UInt64) -> Subscription? {
        guard subscriber.subscriptions[id] == nil else { return nil }
        if id.index >= lists.count {
            lists.append(contentsOf: repeatElement([], count: id.index + 1 - lists.count))
        }
        let subscription = Subscription(
            subscriber: subscriber, symbolID: id, position: lists[id.index].count,
            lastSentSeq: lastSentSeq)
        subscriber.subscriptions.insert(subscription)
        lists[id.index].append(subscription)
        return subscription
    }

    /// Removes the subscription; false if there was none.
    mutating func remove(_ subscriber: Subscriber, from id: SymbolID) -> Bool {
        guard let subscription = subscriber.subscriptions.removeValue(forKey: id) else { return false }
        subscriber.forgetStale(subscription)
        let position = subscription.position
        let lastPosition = lists[id.index].count - 1
        if position != lastPosition {
            let moved = lists[id.index][lastPosition]
            lists[id.index][position] = moved
            moved.position = position
        }
        lists[id.index].removeLast()
        return true
    }

    /// Removes every subscription of `subscriber`; returns how many there were.
    mutating func removeAll(_ subscriber: Subscriber) -> Int {
        let ids = subscriber.subscriptions.keys
        for id in ids { _ = remove(subscriber, from: id) }
        subscriber.dropStaleList()
        return ids.count
    }

    var subscriptionCount: Int { lists.reduce(0) { $0 + $1.count } }

    /// Symbols with at least one subscriber on this loop.
    var subscribedSymbols: [SymbolID] {
        lists.indices.filter { !lists[$0].isEmpty }.map { SymbolID(UInt32($0)) }
    }

    func checkInvariants() {
        var total = 0
        for (index, list) in lists.enumerated() {
            for (position, subscription) in list.enumerated() {
                precondition(subscription.position == position, "position out of sync")
                precondition(subscription.symbolID.index == index, "subscription in the wrong list")
                precondition(
                    subscription.subscriber.subscriptions[subscription.symbolID] === subscription,
                    "subscriber does not own its indexed subscription")
                precondition(
                    subscription.isInStaleList == subscription.subscriber.staleListContains(subscription),
                    "stale-list flag out of sync with the stale list")
                precondition(
                    !subscription.isStale || subscription.isInStaleList, "a stale subscription is in the stale list")
            }
            total += list.count
        }
        precondition(total == subscriptionCount)
    }
}
