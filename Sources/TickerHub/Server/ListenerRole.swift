/// What a listener serves. By default one listener serves everything. With `--admin-port`, the
/// operator's endpoints and the publishers' door move to a listener of their own (bound to
/// loopback unless `--admin-host` says otherwise), as Centrifugo's internal port does: the public
/// listener then serves market data and the watchlist only, and answers the rest with 404.
enum ListenerRole: Sendable, Equatable {
    /// Everything (no `--admin-port`).
    case combined
    /// Market data: `/ws`, the watchlist page and its assets, the REST reads, health.
    case publicOnly
    /// The operator and the publishers: `/metrics`, `/stats`, `/ops`, `/ingest`, health.
    case adminOnly

    /// Paths only the admin listener serves when there is one.
    static let adminPaths: Set<Substring> = [
        "/metrics", "/stats", "/stats/catalog", "/ops", "/assets/ops.js", "/ingest",
    ]
    /// Paths both serve: health, and the assets the operator page shares with the watchlist.
    static let sharedPaths: Set<Substring> = [
        "/healthz", "/readyz", "/favicon.ico", "/assets/style.css", "/assets/charts.js", "/assets/dom.js",
    ]

    /// Whether a request for `path` is this listener's to answer (otherwise 404).
    func serves(_ path: Substring) -> Bool {
        switch self {
        case .combined: true
        case .publicOnly: !Self.adminPaths.contains(path)
        case .adminOnly: Self.adminPaths.contains(path) || Self.sharedPaths.contains(path)
        }
    }
}
