import FeedModel
import NIOCore

/// The subscriptions of one event loop that are holding back an update under their maximum
/// frequency (`UpdateInterval`), grouped by interval. Confined to the loop.
///
/// Releases are aligned to the loop's clock: every subscription with interval *I* is released at the
/// next multiple of *I*, all together. So a throttled subscription is only ever sent at a boundary,
/// at most once per interval, and a connection with several throttled symbols gets all of them in
/// one socket write per boundary instead of one write each (the lever is messages per write).
///
/// Invariants (checked by `checkInvariants()`):
/// - a group exists exactly while a release is scheduled for it (`hold` returns a deadline only when
///   it creates one, and `release` removes it);
/// - a subscription with `isHeld` is in exactly one group.
///
/// Memory: one entry per held subscription, plus entries of subscriptions that were removed or sent
/// while held (`forget`), which are compacted away once they outnumber the live ones, so churn
/// cannot grow it.
struct HeldUpdates {
    private var groups: [UpdateInterval: [Subscription]] = [:]
    /// Entries in `groups` whose subscription is no longer held.
    private var forgotten = 0
    /// Subscriptions held right now.
    private(set) var heldCount = 0

    /// Holds `subscription` until the next boundary of `interval`. Returns when to release the group
    /// if this created it (the caller schedules that), nil if a release is already scheduled.
    mutating func hold(_ subscription: Subscription, interval: UpdateInterval, now: NIODeadline) -> NIODeadline? {
        precondition(!subscription.isHeld, "a subscription is held once")
        subscription.isHeld = true
        heldCount += 1
        if groups[interval]?.append(subscription) != nil { return nil }
        groups[interval] = [subscription]
        return Self.boundary(after: now, every: interval)
    }

    /// Ends the group's hold: returns its subscriptions that are still held, no longer held.
    mutating func release(_ interval: UpdateInterval) -> [Subscription] {
        guard let group = groups.removeValue(forKey: interval) else { return [] }
        var due: [Subscription] = []
        due.reserveCapacity(group.count)
        for subscription in group {
            if subscription.isHeld {
                subscription.isHeld = false
                heldCount -= 1
                due.append(subscription)
            } else {
                forgotten -= 1
            }
        }
        return due
    }

    /// Takes `subscription` out of its hold early: it was sent its latest value another way, or removed.
    mutating func forget(_ subscription: Subscription) {
        guard subscription.isHeld else { return }
        subscription.isHeld = false
        heldCount -= 1
        forgotten += 1
        if forgotten > 64 && forgotten > heldCount {
            // Keep empty groups: each still has its release scheduled.
            for interval in Array(groups.keys) { groups[interval]!.removeAll { !$0.isHeld } }
            forgotten = 0
        }
    }

    /// The first multiple of `interval` (on the loop's uptime clock) after `now`.
    static func boundary(after now: NIODeadline, every interval: UpdateInterval) -> NIODeadline {
        let step = UInt64(interval.nanoseconds)
        return .uptimeNanoseconds((now.uptimeNanoseconds / step + 1) * step)
    }

    func checkInvariants() {
        var held = 0, dead = 0
        for group in groups.values {
            for subscription in group { if subscription.isHeld { held += 1 } else { dead += 1 } }
        }
        precondition(dead == forgotten, "forgotten entries out of sync")
        precondition(held == heldCount)
        var seen = Set<ObjectIdentifier>()
        for group in groups.values {
            for subscription in group where subscription.isHeld {
                precondition(seen.insert(ObjectIdentifier(subscription)).inserted, "a held subscription in two groups")
            }
        }
    }
}
