import AccessControl
import NIOHTTP1

/// The one place that decides what an incoming WebSocket upgrade becomes, and with which extensions.
/// It stands behind `AdmissionGate`, which has already checked the limits and the token: `grant` is
/// what the token allows (nil when the handshake earned none). `decide` is a pure function of the
/// request and its grant: the upgrader calls it once for the response headers and once to build the
/// pipeline, and both see the same answer.
struct ConnectionAdmission: Sendable {
    enum Decision: Equatable, Sendable {
        /// A market-data subscriber on `/ws`, with permessage-deflate if agreed, or the zstd
        /// subprotocol if it asked for it (then without permessage-deflate: its frames are already
        /// compressed).
        case subscriber(
            deflate: PerMessageDeflateNegotiation.Agreement?, zstd: Bool = false,
            options: SubscriberOptions = SubscriberOptions())
        /// A tick publisher on `/ingest` (only when the hub runs with `--feed ingest`), allowed to
        /// publish `symbols`.
        case publisher(symbols: SymbolEntitlement)
        /// A browser's handshake the gate refused (`RefusedHandshake`): upgraded, then closed at once
        /// with the refusal's code and reason.
        case closeAtOnce(RefusedHandshake)
        /// Not a WebSocket endpoint, or a handshake refused (a bad option, an origin not allowed): the
        /// request falls through to the HTTP routes, which answer it (400, 403, 404, 426).
        case refuse
    }

    let acceptsPublishers: Bool
    let deflate: PerMessageDeflateNegotiation
    var offersZstd = false
    /// `--heartbeat-ms`: for subscribers whose URL does not choose (0: none).
    var defaultHeartbeatMilliseconds = 0
    /// `--allowed-origin`: the web pages that may open a WebSocket here.
    var origins = OriginPolicy(allowed: [])
    /// `--ingest-token`: what a publisher must present; nil when `/ingest` is open (loopback only).
    var ingestCredential: IngestCredential?
    /// Which endpoints this listener serves (`--admin-port` splits them).
    var role = ListenerRole.combined

    /// With auth on, every WebSocket needs a grant from the gate.
    var requiresGrant = false

    func decide(_ head: HTTPRequestHead, grant: AccessGrant? = .open, refusedInBand: RefusedHandshake? = nil)
        -> Decision
    {
        let path = HTTPRoutes.path(of: head.uri)
        guard head.method == .GET, role.serves(path) else { return .refuse }
        switch path {
        case "/ws":
            guard origins.allows(head.headers) else { return .refuse }
            if let refusedInBand { return .closeAtOnce(refusedInBand) }
            guard grant != nil || !requiresGrant else { return .refuse }
            // A bad option is refused here and answered 400 by the HTTP routes, which check the same.
            guard
                case .success(let options) = SubscriberOptions.parse(
                    uri: head.uri, defaultHeartbeatMilliseconds: defaultHeartbeatMilliseconds)
            else {
                return .refuse
            }
            let protocols = head.headers["Sec-WebSocket-Protocol"].flatMap { $0.split(separator: ",") }
                .map {
                    String($0.drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
                }
            if offersZstd, protocols.contains(ZstdDictionaryTraining.subprotocol) {
                return .subscriber(deflate: nil, zstd: true, options: options)
            }
            return .subscriber(deflate: deflate.negotiate(head.headers["Sec-WebSocket-Extensions"]), options: options)
        case "/ingest":
            guard acceptsPublishers, origins.allowsPublisher(head.headers) else { return .refuse }
            if requiresGrant {
                // The gate granted publishing (the ingest secret, or a token's `publish` claim).
                guard let publish = grant?.publish else { return .refuse }
                return .publisher(symbols: publish)
            }
            guard ingestCredential?.isPresented(in: head) ?? true else { return .refuse }
            return .publisher(symbols: .everything)
        default: return .refuse
        }
    }

    /// Headers the 101 response adds for `decision`.
    static func responseHeaders(for decision: Decision) -> HTTPHeaders {
        var headers = HTTPHeaders()
        if case .subscriber(let agreement?, _, _) = decision {
            headers.add(name: "Sec-WebSocket-Extensions", value: agreement.responseHeader)
        }
        if case .subscriber(_, true, _) = decision {
            headers.add(name: "Sec-WebSocket-Protocol", value: ZstdDictionaryTraining.subprotocol)
        }
        return headers
    }
}
