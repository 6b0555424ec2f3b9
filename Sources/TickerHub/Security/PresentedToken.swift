import NIOHTTP1

/// Where a client puts its credential on a handshake: `Authorization: Bearer <token>`, or, for a
/// browser (which cannot set headers on a WebSocket), a `token` query parameter. The header wins.
enum PresentedToken {
    static func find(in head: HTTPRequestHead) -> Substring? {
        if let header = head.headers.first(name: "Authorization") {
            let parts = header.split(separator: " ", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == "bearer", !parts[1].isEmpty { return parts[1] }
        }
        if let query = HTTPRoutes.query(of: head.uri, "token"), !query.isEmpty { return query }
        return nil
    }
}
