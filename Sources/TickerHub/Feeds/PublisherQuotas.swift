import Synchronization

/// The new symbols each publisher has added to the directory, against
/// `--max-new-symbols-per-publisher`, for the hub's lifetime: the directory never forgets a symbol,
/// so neither does the quota, and a publisher that reconnects carries on where it stood. A publisher
/// is who it authenticated as: its token's subject, or the shared ingest token, or, on an open
/// loopback `/ingest`, its address (`IngestSession.identity`).
///
/// Bounded: one entry per publisher identity that has added a symbol, and identities come from
/// credentials the operator issued (or loopback addresses).
final class PublisherQuotas: Sendable {
    private let used = Mutex<[String: Int]>([:])
    let limit: Int

    init(limit: Int) {
        self.limit = limit
    }

    /// Whether `publisher` may still add a symbol.
    func mayAdd(_ publisher: String) -> Bool {
        used.withLock { ($0[publisher] ?? 0) < limit }
    }

    /// `publisher` added a symbol; returns whether it may still add another.
    func added(_ publisher: String) -> Bool {
        used.withLock { used in
            used[publisher, default: 0] += 1
            return used[publisher]! < limit
        }
    }
}
