import FanoutEngine
import FeedModel
import Synchronization

/// The subscriber sessions that follow a symbol pattern (`"EUR/*"`), and how to tell each one that a
/// symbol appeared. Only those sessions are told: a hub-wide broadcast per new symbol would reach
/// every connection, and an ingest publisher may add thousands.
final class PatternWatchers: Sendable {
    private let watchers = Mutex<[ObjectIdentifier: @Sendable (Symbol) -> Void]>([:])

    init(directory: SymbolDirectory) {
        directory.onNewSymbol { [weak self] symbol in self?.symbolAppeared(symbol) }
    }

    /// `notify` runs on the thread that registered the symbol: it hops to the session's loop itself.
    func watch(_ key: ObjectIdentifier, notify: @escaping @Sendable (Symbol) -> Void) {
        watchers.withLock { $0[key] = notify }
    }

    func unwatch(_ key: ObjectIdentifier) {
        _ = watchers.withLock { $0.removeValue(forKey: key) }
    }

    private func symbolAppeared(_ symbol: Symbol) {
        for notify in watchers.withLock({ Array($0.values) }) { notify(symbol) }
    }
}
