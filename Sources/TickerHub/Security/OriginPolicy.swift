import NIOHTTP1

/// Which web pages may open the hub's WebSockets (`--allowed-origin`), against cross-site WebSocket
/// hijacking: browsers send the page's `Origin` with every WebSocket handshake, and a handshake
/// whose `Origin` is not allowed is refused with 403 before it is upgraded.
///
/// - **Subscribers (`/ws`).** With no list, every origin may subscribe: the open demo. With a list,
///   the listed origins may, and so may the hub's own pages (the watchlist, the operator view) when
///   they are served from an IP address or `localhost`, with the listener's scheme. A hub reached
///   by a DNS name lists its own origin: a `Host` name is the one thing DNS rebinding controls (an
///   attacker's name that resolves to the hub), so a name is never taken as proof of same origin.
/// - **Publishers (`/ingest`).** A publisher is a program, not a page: a request that carries an
///   `Origin` is refused unless that origin is listed explicitly, list or no list, so no web page
///   the operator happens to open can publish prices to a hub on loopback.
///
/// Native clients send no `Origin` and are never refused by it (they are not a browser page acting
/// for a user; a token is what guards them). Origins are compared as RFC 6454 serialises them,
/// `scheme://host[:port]`, case-insensitively.
struct OriginPolicy: Sendable, Equatable {
    /// Lowercased; empty means any origin (for subscribers).
    let allowed: Set<String>
    /// The scheme the hub's own pages are served with: `https` behind `--tls-cert`.
    var listenerScheme = "http"

    init(allowed: [String], listenerScheme: String = "http") {
        self.allowed = Set(allowed.map { Self.normalised($0) })
        self.listenerScheme = listenerScheme
    }

    /// Whether a subscriber's handshake with these headers may go ahead.
    func allows(_ headers: HTTPHeaders) -> Bool {
        guard !allowed.isEmpty, let origin = headers.first(name: "Origin") else { return true }
        let normalised = Self.normalised(origin)
        if allowed.contains(normalised) { return true }
        // Same origin: the page came from this very host and port, named by an address.
        let parts = normalised.split(separator: "://", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0] == listenerScheme, let host = headers.first(name: "Host"),
            parts[1] == Self.normalised(host)
        else { return false }
        return Self.isAddressOrLocalhost(authority: parts[1])
    }

    /// Whether `origin` is on the list.
    func lists(_ origin: String) -> Bool {
        allowed.contains(Self.normalised(origin))
    }

    /// Whether a publisher's handshake with these headers may go ahead: no `Origin`, or a listed one.
    func allowsPublisher(_ headers: HTTPHeaders) -> Bool {
        guard let origin = headers.first(name: "Origin") else { return true }
        return allowed.contains(Self.normalised(origin))
    }

    /// Whether `origin` is well-formed enough to put on the list: `scheme://host[:port]`, no path.
    static func isValid(_ origin: String) -> Bool {
        let parts = origin.split(separator: "://", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, let scheme = parts.first, let rest = parts.last else { return false }
        return !scheme.isEmpty && !rest.isEmpty && !rest.contains("/")
    }

    /// `host[:port]` whose host is an IPv4 or IPv6 literal, or `localhost`: names no DNS answers for.
    static func isAddressOrLocalhost(authority: Substring) -> Bool {
        authority == "localhost" || authority.hasPrefix("localhost:") || ClientAddress.parse(authority) != nil
    }

    private static func normalised(_ origin: String) -> String {
        var text = Substring(origin.lowercased())
        while let first = text.first, first == " " || first == "\t" { text.removeFirst() }
        while let last = text.last, last == " " || last == "\t" || last == "/" { text.removeLast() }
        return String(text)
    }
}
