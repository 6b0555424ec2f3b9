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
/// Each hold is stamped with a new ticket, kept on the subscription and on its group entry. An entry
/// is live only while the two match, so an entry left behind by an earlier hold (the subscription
/// was sent its latest value another way, then held again, perhaps under another interval) is
/// recognisably dead and can never release it a second time or at the wrong boundary.
///
/// Invariants (checked by `checkInvariants()`):
/// - a group exists exactly while a release is scheduled for it (`hold` returns a deadline only when
///   it creates one, and `release` removes it);
/// - a held subscription has exactly one live entry, in the group of the interval it was held under;
/// - `entryCount - heldCount` entries are dead, and there are never more of them than
///   `max(compactionSlack, heldCount)` (compaction), so churn cannot grow the groups.
struct HeldUpdates {
    private struct Entry {
        let subscription: Subscription
        let ticket: UInt32
        var isLive: Bool { subscription.holdTicket == ticket }
    }

    private var groups: [UpdateInterval: [Entry]] = [:]
    /// Entries in `groups`, live or dead.
    private var entryCount = 0
    /// Subscriptions held right now (live entries).
    private(set) var heldCount = 0
    /// The last ticket handed out; 0 means "not held", so it is skipped on wrapping. A dead entry
    /// lives at most one interval (100 s), far shorter than 2³² holds take.
    private var lastTicket: UInt32 = 0
    /// Dead entries tolerated before compaction, so small groups are not swept on every forget.
    static let compactionSlack = 64

    /// Holds `subscription` until the next boundary of `interval`. Returns when to release the group
    /// if this created it (the caller schedules that), nil if a release is already scheduled.
    mutating func hold(_ subscription: Subscription, interval: UpdateInterval, now: NIODeadline) -> NIODeadline? {
        precondition(!subscription.isHeld, "a subscription is held once")
        lastTicket = lastTicket == .max ? 1 : lastTicket + 1
        subscription.holdTicket = lastTicket
        heldCount += 1
        entryCount += 1
        let entry = Entry(subscription: subscription, ticket: lastTicket)
        if groups[interval]?.append(entry) != nil { return nil }
        groups[interval] = [entry]
        return Self.boundary(after: now, every: interval)
    }

    /// Ends the group's hold: returns its subscriptions that are still held under it, no longer held.
    mutating func release(_ interval: UpdateInterval) -> [Subscription] {
        guard let group = groups.removeValue(forKey: interval) else { return [] }
        entryCount -= group.count
        var due: [Subscription] = []
        due.reserveCapacity(group.count)
        for entry in group where entry.isLive {
            entry.subscription.holdTicket = 0
            due.append(entry.subscription)
        }
        heldCount -= due.count
        compactIfMostlyDead()
        return due
    }

    /// Takes `subscription` out of its hold early: it was sent its latest value another way, or removed.
    /// Its entry stays behind, dead, until its group is released or compacted.
    mutating func forget(_ subscription: Subscription) {
        guard subscription.isHeld else { return }
        subscription.holdTicket = 0
        heldCount -= 1
        compactIfMostlyDead()
    }

    private mutating func compactIfMostlyDead() {
        let dead = entryCount - heldCount
        guard dead > Self.compactionSlack && dead > heldCount else { return }
        // Keep empty groups: each still has its release scheduled.
        for interval in Array(groups.keys) { groups[interval]!.removeAll { !$0.isLive } }
        entryCount = heldCount
    }

    /// The first multiple of `interval` (on the loop's uptime clock) after `now`.
    static func boundary(after now: NIODeadline, every interval: UpdateInterval) -> NIODeadline {
        let step = UInt64(interval.nanoseconds)
        return .uptimeNanoseconds((now.uptimeNanoseconds / step + 1) * step)
    }

    func checkInvariants() {
        var live = 0, entries = 0
        var seen = Set<ObjectIdentifier>()
        for group in groups.values {
            entries += group.count
            for entry in group where entry.isLive {
                live += 1
                precondition(
                    seen.insert(ObjectIdentifier(entry.subscription)).inserted, "a held subscription has one live entry"
                )
            }
        }
        precondition(entries == entryCount, "entry count out of sync")
        precondition(live == heldCount, "held count out of sync")
        let dead = entryCount - heldCount
        precondition(dead <= max(Self.compactionSlack, heldCount), "dead entries are compacted")
    }
}
