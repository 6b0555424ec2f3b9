import AccessControl
import NIOCore
import NIOHTTP1

/// The door every connection and request passes, before the upgrader and the router:
/// - every connection, WebSocket or plain HTTP, first needs room in `ConnectionLimits` (503 or 429),
///   counted for its client (`ClientAddress`: an IPv4 address or an IPv6 /64, or behind a
///   `--trusted-proxy` the `X-Forwarded-For` client). The place is taken when the connection is
///   accepted, before any TLS handshake: a refused TLS connection is closed at once, with no crypto
///   spent on it; a refused plain one is answered at its first request. An admitted connection
///   gives its place back when it closes;
/// - a request head past `maxHeaderBytes` is answered 431 (NIO's parser has already stopped anything
///   past its own 80 KiB);
/// - with auth on, a request for market data (a handshake, `/v1/snapshot`, ...) needs a token
///   (`RequestAuthentication`: 401, or 403 for a publisher without the right).
/// A refused request is answered here and its connection closed; one let through carries its
/// grant in `RequestGrant`. Removed from the pipeline on upgrade, like the other HTTP handlers.
///
/// A token is checked off the event loop (jwt-kit is async); meanwhile what arrives of the request
/// waits here, a few parts at most, and the request deadline still runs.
final class AdmissionGate: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart

    static let name = "tickerhub.admission-gate"
    /// Parts of a request held while its token is checked: a handshake is a head and an end.
    static let maxHeldParts = 8

    enum Refusal {
        case headerTooLarge
        case limits(ConnectionLimits.Refusal)
        case authentication(RequestAuthentication.Refusal)
    }

    private enum State {
        case passing
        case verifying(held: [NIOAny])
        /// A request was refused: what is left of it is dropped.
        case refusing
    }

    /// Where the connection stands with `ConnectionLimits`.
    private enum Place {
        /// Not asked yet: its peer is a trusted proxy, so its client is known from its first request.
        case undecided
        case admitted
        /// Refused when accepted; answered at the first request.
        case refused(ConnectionLimits.Refusal)
        /// Not counted (a listener without limits).
        case exempt
    }

    private let limits: ConnectionLimits?
    private let trustedProxies: TrustedProxies
    private let closesRefusedAtAccept: Bool
    private let maxHeaderBytes: Int
    private let authentication: RequestAuthentication?
    private let grant: RequestGrant
    private let crossOrigin: CrossOriginReads
    private let onRefusal: (Refusal) -> Void
    /// The request being admitted: for a refusal decided after its token check, and for the CORS
    /// headers that let the page that sent it read a refusal.
    private var currentHead: HTTPRequestHead?
    private var state = State.passing
    private var place = Place.undecided
    private var removed = false

    /// `limits`: nil on a listener whose connections are not counted (the admin listener).
    /// `closesRefusedAtAccept`: close a connection refused for room at once (TLS: answering it would
    /// cost a handshake) instead of answering its first request.
    init(
        limits: ConnectionLimits?, trustedProxies: TrustedProxies = .none, closesRefusedAtAccept: Bool = false,
        maxHeaderBytes: Int, authentication: RequestAuthentication?, grant: RequestGrant,
        crossOrigin: CrossOriginReads,
        onRefusal: @escaping (Refusal) -> Void
    ) {
        self.crossOrigin = crossOrigin
        self.limits = limits
        self.trustedProxies = trustedProxies
        self.closesRefusedAtAccept = closesRefusedAtAccept
        self.maxHeaderBytes = maxHeaderBytes
        self.authentication = authentication
        self.grant = grant
        self.onRefusal = onRefusal
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { admitAtAccept(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        admitAtAccept(context: context)
        context.fireChannelActive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        removed = true
    }

    /// Takes the connection's place as soon as it is accepted, unless its peer is a trusted proxy.
    private func admitAtAccept(context: ChannelHandlerContext) {
        guard case .undecided = place else { return }
        guard let limits else {
            place = .exempt
            return
        }
        let remote = context.remoteAddress
        guard !trustedProxies.trusts(remote) else { return }
        take(ClientAddress.key(of: remote) ?? "local", in: limits, context: context)
        if case .refused(let refusal) = place, closesRefusedAtAccept {
            onRefusal(.limits(refusal))
            context.close(promise: nil)
        }
    }

    private func take(_ key: String, in limits: ConnectionLimits, context: ChannelHandlerContext) {
        if let refusal = limits.admit(key) {
            place = .refused(refusal)
            return
        }
        place = .admitted
        let held = ConnectionPlace(limits: limits, key: key)
        grant.place = held
        context.channel.closeFuture.whenComplete { _ in held.channelClosed() }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // Past an accepted upgrade nothing is a request head (NIO's upgrade handler holds whatever
        // follows); what comes may be raw bytes, which must not be read as HTTP parts.
        guard !grant.upgrading else {
            context.fireChannelRead(data)
            return
        }
        switch state {
        case .refusing:
            return
        case .verifying(var held):
            guard held.count < Self.maxHeldParts else {
                refuse(.authentication(.token(.invalid("request too long"))), version: .http1_1, context: context)
                return
            }
            held.append(data)
            state = .verifying(held: held)
            return
        case .passing:
            break
        }
        if case .head(let head) = unwrapInboundIn(data) {
            currentHead = head
            if case .undecided = place, let limits {
                // Through a trusted proxy: the client is the one it forwarded for.
                let peer = ClientAddress.key(of: context.remoteAddress) ?? "local"
                take(trustedProxies.forwardedClientKey(head.headers) ?? peer, in: limits, context: context)
            }
            if case .refused(let refusal) = place {
                if refusesInBand(.limits(refusal), head: head) {
                    context.fireChannelRead(data)
                } else {
                    refuse(.limits(refusal), version: head.version, context: context)
                }
                return
            }
            guard Self.size(of: head) <= maxHeaderBytes else {
                refuse(.headerTooLarge, version: head.version, context: context)
                return
            }
            grant.grant = authentication == nil ? .open : nil
            grant.refusedInBand = nil
            // A CORS preflight carries no token (browsers send none); the router answers it.
            if !CrossOriginReads.isPreflight(head),
                let check = authentication?.check(head, path: HTTPRoutes.path(of: head.uri), on: context.eventLoop)
            {
                state = .verifying(held: [data])
                check.assumeIsolated().whenSuccess { [self] result in
                    verified(result, version: head.version, context: context)
                }
                return
            }
        }
        context.fireChannelRead(data)
    }

    /// The token's answer: the held request goes on to the upgrader, or is refused.
    private func verified(
        _ result: Result<AccessGrant, RequestAuthentication.Refusal>, version: HTTPVersion,
        context: ChannelHandlerContext
    ) {
        guard !removed, context.channel.isActive, case .verifying(let held) = state else { return }
        switch result {
        case .success(let accessGrant):
            grant.grant = accessGrant
            state = .passing
            for part in held { context.fireChannelRead(part) }
            context.fireChannelReadComplete()
        case .failure(let refusal):
            if let head = currentHead, refusesInBand(.authentication(refusal), head: head) {
                state = .passing
                for part in held { context.fireChannelRead(part) }
                context.fireChannelReadComplete()
            } else {
                refuse(.authentication(refusal), version: version, context: context)
            }
        }
    }

    /// The head as it came on the wire, near enough: request line, and each header's name, value and separators.
    private static func size(of head: HTTPRequestHead) -> Int {
        head.headers.reduce(head.uri.utf8.count + 16) { $0 + $1.name.utf8.count + $1.value.utf8.count + 4 }
    }

    /// A browser's handshake refused for room or for its token goes on to be upgraded and closed at
    /// once with the reason (`RefusedHandshake`); returns whether this one does. Counted like any refusal.
    private func refusesInBand(_ refusal: Refusal, head: HTTPRequestHead) -> Bool {
        guard RefusedHandshake.applies(to: head) else { return false }
        let inBand: RefusedHandshake
        switch refusal {
        case .limits(let limit): inBand = RefusedHandshake(status: limit.status, code: limit.code)
        case .authentication(let denial): inBand = RefusedHandshake(status: denial.status, code: denial.code)
        case .headerTooLarge: return false
        }
        onRefusal(refusal)
        grant.grant = nil
        grant.refusedInBand = inBand
        return true
    }

    private func refuse(_ refusal: Refusal, version: HTTPVersion, context: ChannelHandlerContext) {
        state = .refusing
        onRefusal(refusal)
        let response: HTTPResponse
        // A page on another origin may read its refusal (its own 401, say) where it may read the answer.
        var headers = currentHead.map(crossOrigin.headers(for:)) ?? []
        switch refusal {
        case .headerTooLarge:
            response = .error(
                .requestHeaderFieldsTooLarge, code: "header_too_large",
                message: "the request head is larger than \(maxHeaderBytes) bytes")
        case .limits(let limit):
            response = .error(limit.status, code: limit.code, message: limit.message)
            if limit != .serverFull { headers.append(("Retry-After", "1")) }
        case .authentication(let denial):
            response = .error(denial.status, code: denial.code, message: denial.message)
            if let challenge = denial.challenge { headers.append(challenge) }
        }
        response.write(to: context, version: version, keepAlive: false, extraHeaders: headers)
    }
}
