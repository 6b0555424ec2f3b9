import NIOHTTP1

/// The one place that decides what an incoming WebSocket upgrade becomes. Authentication (JWT with
/// per-symbol entitlements), per-IP limits and subprotocol negotiation will be decided here too,
/// so there is exactly one door to guard.
struct ConnectionAdmission: Sendable {
    enum Decision: Equatable, Sendable {
        /// A market-data subscriber on `/ws`.
        case subscriber
        /// A tick publisher on `/ingest` (only when the hub runs with `--feed ingest`).
        case publisher
        /// Not a WebSocket endpoint: the request falls through to the HTTP routes, which answer it.
        case refuse
    }

    let acceptsPublishers: Bool

    func decide(_ head: HTTPRequestHead) -> Decision {
        guard head.method == .GET else { return .refuse }
        switch HTTPRoutes.path(of: head.uri) {
        case "/ws": return .subscriber
        case "/ingest": return acceptsPublishers ? .publisher : .refuse
        default: return .refuse
        }
    }
}
