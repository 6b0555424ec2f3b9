import NIOCore
import NIOHTTP1

/// CORS for what a trading desk's own dashboard, served from its own domain, reads from the hub:
/// the REST market data (`/v1/...`) and the static assets (`/assets/...`, among them the JavaScript
/// client a page `import`s). Nothing else is readable across origins: not the pages, nor `/stats`,
/// `/metrics` or `/ops`.
///
/// With `--allowed-origin`, only the listed origins may read (the answer names the page's origin,
/// and `Vary: Origin` keeps caches honest); without, any page may (`*`). A cross-origin read never
/// carries cookies (the hub sets none); with auth on it carries `Authorization: Bearer`, which the
/// preflight allows. The preflight (`OPTIONS` with `Access-Control-Request-Method`) is answered
/// before any token check, as browsers send it without one.
struct CrossOriginReads: Sendable {
    let origins: OriginPolicy

    /// Paths whose answers a page on another origin may read.
    static func isReadable(_ path: Substring) -> Bool {
        path.hasPrefix("/v1/") || path.hasPrefix("/assets/")
    }

    /// What a browser caches a preflight's answer for, in seconds.
    static let preflightMaxAgeSeconds = 600

    /// The headers that let the requesting page read this answer; none without an `Origin`, for a
    /// path that is not readable, or for an origin the list does not name.
    func headers(for head: HTTPRequestHead) -> [(String, String)] {
        guard let origin = head.headers.first(name: "Origin"), Self.isReadable(HTTPRoutes.path(of: head.uri)) else {
            return []
        }
        if origins.allowed.isEmpty { return [("Access-Control-Allow-Origin", "*")] }
        guard origins.lists(origin) else { return [("Vary", "Origin")] }
        return [("Access-Control-Allow-Origin", origin), ("Vary", "Origin")]
    }

    static func isPreflight(_ head: HTTPRequestHead) -> Bool {
        head.method == .OPTIONS && head.headers.contains(name: "Access-Control-Request-Method")
            && head.headers.contains(name: "Origin")
    }

    /// The answer to a preflight: 204 with what may follow (GET or HEAD, with an `Authorization`
    /// header), or 403 for an origin or a path that may not read.
    func preflight(_ head: HTTPRequestHead) -> (HTTPResponse, [(String, String)]) {
        let allowOrigin = headers(for: head)
        guard allowOrigin.contains(where: { $0.0 == "Access-Control-Allow-Origin" }) else {
            return (
                .error(
                    .forbidden, code: "origin_not_allowed",
                    message: "this hub does not let that page read \(HTTPRoutes.path(of: head.uri).prefix(100))"),
                allowOrigin
            )
        }
        return (
            HTTPResponse(status: .noContent, contentType: "text/plain", body: ByteBuffer()),
            allowOrigin + [
                ("Access-Control-Allow-Methods", "GET, HEAD"),
                ("Access-Control-Allow-Headers", "Authorization"),
                ("Access-Control-Max-Age", String(Self.preflightMaxAgeSeconds)),
            ]
        )
    }
}
