import NIOHTTP1

/// The one place that decides what an incoming WebSocket upgrade becomes, and with which extensions.
/// Authentication (JWT with per-symbol entitlements) and per-IP limits will be decided here too, so
/// there is exactly one door to guard. `decide` is a pure function of the request: the upgrader calls
/// it once for the response headers and once to build the pipeline, and both see the same answer.
struct ConnectionAdmission: Sendable {
    enum Decision: Equatable, Sendable {
        /// A market-data subscriber on `/ws`, with permessage-deflate if agreed.
        case subscriber(deflate: PerMessageDeflateNegotiation.Agreement?)
        /// A tick publisher on `/ingest` (only when the hub runs with `--feed ingest`).
        case publisher
        /// Not a WebSocket endpoint: the request falls through to the HTTP routes, which answer it.
        case refuse
    }

    let acceptsPublishers: Bool
    let deflate: PerMessageDeflateNegotiation

    func decide(_ head: HTTPRequestHead) -> Decision {
        guard head.method == .GET else { return .refuse }
        switch HTTPRoutes.path(of: head.uri) {
        case "/ws": return .subscriber(deflate: deflate.negotiate(head.headers["Sec-WebSocket-Extensions"]))
        case "/ingest": return acceptsPublishers ? .publisher : .refuse
        default: return .refuse
        }
    }

    /// Headers the 101 response adds for `decision`.
    static func responseHeaders(for decision: Decision) -> HTTPHeaders {
        var headers = HTTPHeaders()
        if case .subscriber(let agreement?) = decision {
            headers.add(name: "Sec-WebSocket-Extensions", value: agreement.responseHeader)
        }
        return headers
    }
}
