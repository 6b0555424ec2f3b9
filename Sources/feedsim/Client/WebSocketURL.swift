/// `ws://host:port/path` or `wss://host:port/path` (TLS, `ClientTLS`).
struct WebSocketURL: Sendable, CustomStringConvertible {
    var host: String
    var port: Int
    var path: String
    /// `wss://`: the connection speaks TLS.
    var isSecure: Bool

    init?(_ text: String) {
        if text.hasPrefix("ws://") {
            isSecure = false
        } else if text.hasPrefix("wss://") {
            isSecure = true
        } else {
            return nil
        }
        let rest = text.drop { $0 != "/" }.dropFirst(2)
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        let authority = rest[..<slash]
        path = slash == rest.endIndex ? "/" : String(rest[slash...])
        if let colon = authority.lastIndex(of: ":"), let port = Int(authority[authority.index(after: colon)...]) {
            host = String(authority[..<colon])
            self.port = port
        } else {
            host = String(authority)
            port = isSecure ? 443 : 80
        }
        guard !host.isEmpty else { return nil }
    }

    /// The same server over HTTP(S), for its plain routes.
    var httpBase: String { "\(isSecure ? "https" : "http")://\(host):\(port)" }

    var description: String { "\(isSecure ? "wss" : "ws")://\(host):\(port)\(path)" }
}
