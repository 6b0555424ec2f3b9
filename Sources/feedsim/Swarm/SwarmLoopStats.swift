import Histogram
import NIOCore

/// What the swarm's clients on one event loop have seen. Confined to that loop; the command reads
/// and resets it with `eventLoop.submit`, so no locks sit on the receive path.
final class SwarmLoopStats: @unchecked Sendable {
    // @unchecked: only touched on `eventLoop`.
    let eventLoop: any EventLoop
    /// End-to-end latency in microseconds: receive time minus the update's `ts`.
    var latency = Histogram<UInt64>(highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: .three)
    var updates: UInt64 = 0
    var snapshots: UInt64 = 0
    var heartbeats: UInt64 = 0
    var errors: UInt64 = 0
    /// Updates missing by seq: sum of (seq - last - 1) over every jump.
    var gapMessages: UInt64 = 0
    /// Number of jumps (a gap of any size counts once).
    var gapEvents: UInt64 = 0
    var bytes: UInt64 = 0
    var closedByServer: UInt64 = 0
    /// Connections closed with 4008 "slow consumer".
    var evicted: UInt64 = 0
    /// Latest-value messages received in place of skipped updates.
    var conflated: UInt64 = 0
    /// Updates whose seq was not above the previous one: must stay 0.
    var seqRegressions: UInt64 = 0
    /// End-of-run `stats` replies, and what they said against what the clients saw.
    var statsReplies: UInt64 = 0
    var hubDropped: UInt64 = 0
    /// The hub's `throttled` count (updates skipped under `maxFrequency`), also shown as seq gaps.
    var hubThrottled: UInt64 = 0
    /// The hub's `upstream` count (the feed's own gaps, shown as seq gaps too).
    var hubUpstream: UInt64 = 0
    var gapsAtStats: UInt64 = 0
    var dropMismatches: UInt64 = 0
    /// Failover: reconnections made after a hub went away, and attempts that failed.
    var reconnects: UInt64 = 0
    var reconnectFailures: UInt64 = 0
    /// Updates missed while reconnecting: the first snapshot's seq past the last one seen.
    var failoverGaps: UInt64 = 0
    /// Welcomes with a new epoch (the publisher restarted), and `status` messages (feed stale/live).
    var epochChanges: UInt64 = 0
    var statusMessages: UInt64 = 0
    /// Connections open now.
    var open: UInt64 = 0

    init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    struct Snapshot: Sendable {
        var latency: Histogram<UInt64>
        var updates, snapshots, heartbeats, errors, gapMessages, gapEvents, bytes, closedByServer: UInt64
        var evicted, conflated, seqRegressions, statsReplies, hubDropped, hubThrottled, gapsAtStats,
            dropMismatches: UInt64
        var reconnects: UInt64 = 0, reconnectFailures: UInt64 = 0, failoverGaps: UInt64 = 0, epochChanges: UInt64 = 0,
            statusMessages: UInt64 = 0, open: UInt64 = 0, hubUpstream: UInt64 = 0

        static var empty: Snapshot {
            Snapshot(
                latency: Histogram(highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: .three),
                updates: 0, snapshots: 0, heartbeats: 0, errors: 0, gapMessages: 0, gapEvents: 0, bytes: 0,
                closedByServer: 0,
                evicted: 0, conflated: 0, seqRegressions: 0, statsReplies: 0, hubDropped: 0, hubThrottled: 0,
                gapsAtStats: 0, dropMismatches: 0)
        }

        static func merged(_ parts: [Snapshot]) -> Snapshot {
            var total = Snapshot.empty
            for part in parts {
                total.latency.add(part.latency)
                total.updates += part.updates
                total.snapshots += part.snapshots
                total.heartbeats += part.heartbeats
                total.errors += part.errors
                total.gapMessages += part.gapMessages
                total.gapEvents += part.gapEvents
                total.bytes += part.bytes
                total.closedByServer += part.closedByServer
                total.evicted += part.evicted
                total.conflated += part.conflated
                total.seqRegressions += part.seqRegressions
                total.statsReplies += part.statsReplies
                total.hubDropped += part.hubDropped
                total.hubThrottled += part.hubThrottled
                total.gapsAtStats += part.gapsAtStats
                total.dropMismatches += part.dropMismatches
                total.reconnects += part.reconnects
                total.reconnectFailures += part.reconnectFailures
                total.failoverGaps += part.failoverGaps
                total.epochChanges += part.epochChanges
                total.statusMessages += part.statusMessages
                total.open += part.open
                total.hubUpstream += part.hubUpstream
            }
            return total
        }
    }

    /// Returns the counts so far and, if `reset`, starts over (used to drop the warm-up period).
    func take(reset: Bool) -> Snapshot {
        let snapshot = Snapshot(
            latency: latency, updates: updates, snapshots: snapshots, heartbeats: heartbeats, errors: errors,
            gapMessages: gapMessages, gapEvents: gapEvents, bytes: bytes, closedByServer: closedByServer,
            evicted: evicted, conflated: conflated, seqRegressions: seqRegressions, statsReplies: statsReplies,
            hubDropped: hubDropped, hubThrottled: hubThrottled, gapsAtStats: gapsAtStats,
            dropMismatches: dropMismatches,
            reconnects: reconnects, reconnectFailures: reconnectFailures, failoverGaps: failoverGaps,
            epochChanges: epochChanges, statusMessages: statusMessages, open: open, hubUpstream: hubUpstream)
        if reset {
            // Eviction, regression and failover counts are kept: they matter whenever they happen.
            latency.reset()
            updates = 0
            snapshots = 0
            heartbeats = 0
            errors = 0
            gapMessages = 0
            gapEvents = 0
            bytes = 0
            closedByServer = 0
            conflated = 0
        }
        return snapshot
    }
}
