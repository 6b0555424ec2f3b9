import Atomics
import FeedModel
import Logging
import Synchronization

/// What a feed says besides its ticks, and who hears it. A feed reports three things:
/// - its upstream was lost or is back (`upstreamLost`, `upstreamRestored`): every open subscriber
///   gets a `status` message, and so does one that connects while it lasts;
/// - it is warm (`becameWarm`): every symbol it knows has a value; `/readyz` waits for this;
/// - its publisher's numbering restarted (`numberingRestarted`): subscribers holding the old seqs
///   are closed with 1012 (service restart) and come back to the new epoch's snapshots.
///
/// The simulator and ingest never report: they start warm and live.
final class FeedStatusBoard: Sendable {
    private struct State {
        var condition = FeedCondition.live
        var warm = true
    }

    private let state = Mutex(State())
    private let connections: ConnectionRegistry
    private let logger: Logger
    /// Times the upstream was lost.
    let upstreamLosses = ManagedAtomic<UInt64>(0)
    /// Times subscribers were closed for a publisher's new epoch.
    let epochChanges = ManagedAtomic<UInt64>(0)
    /// Feed messages refused (not the tick encoding, no epoch header, symbol table full).
    let rejectedMessages = ManagedAtomic<UInt64>(0)

    init(connections: ConnectionRegistry, logger: Logger) {
        self.connections = connections
        self.logger = logger
    }

    var condition: FeedCondition { state.withLock { $0.condition } }
    var isWarm: Bool { state.withLock { $0.warm } }

    /// A feed that must fill its values before serving (NATS) says so before it starts.
    func awaitWarmStart() {
        state.withLock { $0.warm = false }
    }

    /// A feed whose upstream is not there yet at start (NATS, before it connects): stale, without
    /// counting a loss or telling anyone (nobody is connected yet).
    func startStale(_ reason: String) {
        state.withLock { $0.condition = .stale(reason: reason) }
    }

    func becameWarm(symbols: Int) {
        let changed = state.withLock { state in
            defer { state.warm = true }
            return !state.warm
        }
        if changed { logger.info("feed warm: every symbol has a value", metadata: ["symbols": "\(symbols)"]) }
    }

    func upstreamLost(_ reason: String) {
        let changed = state.withLock { state in
            guard state.condition == .live else { return false }
            state.condition = .stale(reason: reason)
            return true
        }
        guard changed else { return }
        upstreamLosses.wrappingIncrement(ordering: .relaxed)
        logger.warning("feed stale: serving the last values", metadata: ["reason": "\(reason)"])
        connections.broadcast(FeedConditionEvent(condition: .stale(reason: reason)))
    }

    func upstreamRestored() {
        let changed = state.withLock { state in
            defer { state.condition = .live }
            return state.condition != .live
        }
        guard changed else { return }
        logger.info("feed live")
        connections.broadcast(FeedConditionEvent(condition: .live))
    }

    func numberingRestarted(_ epoch: FeedEpoch) {
        epochChanges.wrappingIncrement(ordering: .relaxed)
        logger.notice("feed epoch changed: closing subscribers so they re-base", metadata: ["epoch": "\(epoch)"])
        connections.broadcast(FeedRestartedEvent())
    }
}

/// Sent through each connection's pipeline when the feed goes stale or live.
struct FeedConditionEvent: HubEvent {
    let condition: FeedCondition
}

/// Sent through each connection's pipeline when the feed's numbering restarted.
struct FeedRestartedEvent: HubEvent {}
