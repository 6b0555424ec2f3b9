import NIOHTTP1

/// Which web pages may open the hub's WebSockets (`--allowed-origin`), against cross-site WebSocket
/// hijacking: browsers send the page's `Origin` with every WebSocket handshake, and a handshake
/// whose `Origin` is not on the list is refused with 403 before it is upgraded.
///
/// A page the hub serves itself (the watchlist, the operator view) is always allowed: its origin's
/// host and port are the request's `Host`, which a browser sets and a page cannot forge.
/// With no list, every origin is allowed: the open demo. Native clients send no `Origin` and are
/// never refused by it (they are not a browser page acting for a user; a token is what guards them).
/// Origins are compared as RFC 6454 serialises them, `scheme://host[:port]`, case-insensitively.
struct OriginPolicy: Sendable, Equatable {
    /// Lowercased; empty means any origin.
    let allowed: Set<String>

    init(allowed: [String]) {
        self.allowed = Set(allowed.map { Self.normalised($0) })
    }

    /// Whether a handshake with these headers may go ahead.
    func allows(_ headers: HTTPHeaders) -> Bool {
        guard !allowed.isEmpty, let origin = headers.first(name: "Origin") else { return true }
        let normalised = Self.normalised(origin)
        if allowed.contains(normalised) { return true }
        // Same origin: the page came from this very host and port.
        guard let host = headers.first(name: "Host"), let authority = normalised.split(separator: "://", maxSplits: 1).last else { return false }
        return authority == Self.normalised(host)
    }

    /// Whether `origin` is well-formed enough to put on the list: `scheme://host[:port]`, no path.
    static func isValid(_ origin: String) -> Bool {
        let parts = origin.split(separator: "://", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, let scheme = parts.first, let rest = parts.last else { return false }
        return !scheme.isEmpty && !rest.isEmpty && !rest.contains("/")
    }

    private static func normalised(_ origin: String) -> String {
        var text = Substring(origin.lowercased())
        while let first = text.first, first == " " || first == "\t" { text.removeFirst() }
        while let last = text.last, last == " " || last == "\t" || last == "/" { text.removeLast() }
        return String(text)
    }
}
