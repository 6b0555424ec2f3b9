import AccessControl
import FanoutEngine
import FeedModel
import NIOCore
import NIOHTTP1

/// The plain HTTP routes: a pure function from request head to response, so it is easy to test.
///
/// | route                               | answer                                            |
/// |-------------------------------------|---------------------------------------------------|
/// | `GET /`                             | the live watchlist page                           |
/// | `GET /ops`                          | the operator page (charts of `/stats`)            |
/// | `GET /assets/{file}`                | their scripts and styles (compiled into the binary) |
/// | `GET /healthz`                      | 200 `ok` (the process is alive)                   |
/// | `GET /readyz`                       | 200 when the feed is flowing, 503 otherwise       |
/// | `GET /metrics`                      | Prometheus text format                            |
/// | `GET /v1/symbols`                   | JSON array of symbol names (those the token grants) |
/// | `GET /v1/snapshot?symbols=A,B`      | JSON array of snapshots (all granted if omitted)  |
/// | `GET /v1/instruments`               | each symbol's details and session statistics      |
/// | `GET /v1/book?symbol=S&depth=10`    | a symbol's `book` snapshot at a depth             |
/// | `GET /v1/candles?symbol=S&interval=1m` | a symbol's last bars (`MarketDataReads`)       |
/// | `GET /stats`                        | JSON counters                                     |
/// | `GET /stats/catalog`                | what each figure of `/stats` and `/metrics` means |
/// | `GET /v1/zstd/dictionary/{id}`      | the zstd dictionary with that id (binary)         |
/// | `GET /ws`, `GET /ingest`            | 426 unless it is a WebSocket upgrade (400 for a bad `/ws` option, 403 for an `Origin` not allowed) |
/// | `OPTIONS /v1/...`, `/assets/...`    | a CORS preflight's answer (`CrossOriginReads`)    |
struct HTTPRoutes: Sendable {
    let hub: Hub
    /// Which of the routes this listener answers (`ListenerRole`); the others are 404.
    var role = ListenerRole.combined

    static func path(of uri: String) -> Substring {
        uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
    }

    /// The value of query parameter `name`, percent-decoded (and `+` as a space, as forms and
    /// `URLSearchParams` encode it): `symbols=EUR%2FUSD%2CAAPL` is `EUR/USD,AAPL`.
    static func query(of uri: String, _ name: String) -> Substring? {
        let parts = uri.split(separator: "?", maxSplits: 1)
        guard parts.count == 2 else { return nil }
        for pair in parts[1].split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            if kv.first.map(percentDecoded) == name { return kv.count == 2 ? Substring(percentDecoded(kv[1])) : "" }
        }
        return nil
    }

    /// `%XX` as the byte it names, `+` as a space; a `%` not followed by two hex digits stays as it
    /// is. Bytes that are not UTF-8 become U+FFFD, which no symbol or token contains.
    static func percentDecoded(_ text: Substring) -> String {
        guard text.contains(where: { $0 == "%" || $0 == "+" }) else { return String(text) }
        let bytes = Array(text.utf8)
        var decoded: [UInt8] = []
        decoded.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "%"), index + 2 < bytes.count,
                let high = hexValue(bytes[index + 1]), let low = hexValue(bytes[index + 2])
            {
                decoded.append(high << 4 | low)
                index += 3
            } else {
                decoded.append(byte == UInt8(ascii: "+") ? UInt8(ascii: " ") : byte)
                index += 1
            }
        }
        return String(decoding: decoded, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// `grant`: what the request's token allows (with auth on, the gate let through only requests
    /// for market data that carry one); the market-data answers hold only the symbols it grants.
    func respond(to head: HTTPRequestHead, grant: AccessGrant = .open) -> HTTPResponse {
        hub.metrics.httpRequests.wrappingIncrement(ordering: .relaxed)
        let crossOrigin = CrossOriginReads(origins: hub.configuration.origins)
        if CrossOriginReads.isPreflight(head) {
            var (response, headers) = crossOrigin.preflight(head)
            response.headers = headers
            return response
        }
        var response = answer(head, grant: grant)
        response.headers += crossOrigin.headers(for: head)
        return response
    }

    private func answer(_ head: HTTPRequestHead, grant: AccessGrant) -> HTTPResponse {
        guard head.method == .GET || head.method == .HEAD else {
            return .error(.methodNotAllowed, code: "method_not_allowed", message: "only GET is supported")
        }
        let path = HTTPRoutes.path(of: head.uri)
        guard role.serves(path) else {
            return .error(.notFound, code: "not_found", message: "no route for \(path.prefix(100)) on this listener")
        }
        if let asset = StaticAssets.byPath[String(path)] {
            return HTTPResponse(status: .ok, contentType: asset.contentType, body: asset.body)
        }
        switch path {
        case "/healthz":
            return .text("ok")
        case "/readyz":
            return readiness()
        case "/metrics":
            return HTTPResponse(
                status: .ok, contentType: "text/plain; version=0.0.4; charset=utf-8",
                body: hub.prometheus.render(hub: hub))
        case "/favicon.ico":
            return HTTPResponse(status: .noContent, contentType: "image/x-icon", body: ByteBuffer())
        case "/v1/symbols":
            var json = JSONWriter(buffer: ByteBuffer())
            json.beginArrayValue()
            for symbol in hub.engine.directory.allSymbols
            where grant.symbols.isEverything || grant.symbols.allows(symbol.name) {
                json.string(symbol.name)
            }
            json.endArray()
            return .json(json.buffer)
        case "/v1/snapshot":
            return snapshot(query: HTTPRoutes.query(of: head.uri, "symbols"), entitlement: grant.symbols)
        case "/v1/instruments":
            return instruments(entitlement: grant.symbols)
        case "/v1/candles":
            return candles(
                symbol: HTTPRoutes.query(of: head.uri, "symbol"), interval: HTTPRoutes.query(of: head.uri, "interval"),
                limit: HTTPRoutes.query(of: head.uri, "limit"), entitlement: grant.symbols)
        case "/v1/book":
            return book(
                symbol: HTTPRoutes.query(of: head.uri, "symbol"), depth: HTTPRoutes.query(of: head.uri, "depth"),
                entitlement: grant.symbols)
        case "/stats":
            return .json(StatsReport(hub: hub).json())
        case "/stats/catalog":
            return .json(MetricCatalog.json())
        case let path where path.hasPrefix("/v1/zstd/dictionary/"):
            return zstdDictionary(id: path.dropFirst("/v1/zstd/dictionary/".count))
        case "/ws" where !hub.configuration.origins.allows(head.headers),
            "/ingest" where !hub.configuration.origins.allowsPublisher(head.headers):
            return .error(
                .forbidden, code: "origin_not_allowed",
                message: "this hub does not accept WebSockets from the page's origin")
        case "/ws":
            if case .failure(let problem) = SubscriberOptions.parse(uri: head.uri, defaultHeartbeatMilliseconds: 0) {
                return .error(.badRequest, code: "invalid_request", message: problem.message)
            }
            return .error(.upgradeRequired, code: "upgrade_required", message: "this endpoint speaks WebSocket")
        case "/ingest"
        where hub.feed.acceptsPublishers && !(hub.configuration.ingest.credential?.isPresented(in: head) ?? true):
            return HTTPResponse.error(
                .unauthorized, code: "unauthorized",
                message: "/ingest needs the publisher token (Authorization: Bearer, or ?token=)")
        case "/ingest":
            return .error(
                .upgradeRequired, code: "upgrade_required",
                message: "this endpoint speaks WebSocket"
                    + (hub.feed.acceptsPublishers ? "" : "; /ingest needs --feed ingest"))
        default:
            return .error(
                .notFound, code: "not_found", message: "no route for \(HTTPRoutes.path(of: head.uri).prefix(100))")
        }
    }

    /// Ready when the publisher accepted a batch in the last `readyWindowSeconds`: a simulated feed
    /// is ready from its first interval; an ingest hub once a publisher sends.
    static let readyWindowSeconds: UInt64 = 5

    private func readiness() -> HTTPResponse {
        if !hub.feedStatus.isWarm {
            return .text(
                "warming up: waiting for every symbol's value (a snapshot from the feed)", status: .serviceUnavailable)
        }
        if case .stale(let reason) = hub.feedStatus.condition {
            return .text("feed stale: \(reason)", status: .serviceUnavailable)
        }
        let last = hub.engine.counters.lastBatchAtNanos.load(ordering: .relaxed)
        let now = Timestamp.now().nanosecondsSinceEpoch
        if last > 0, now >= last, now - last <= Self.readyWindowSeconds * 1_000_000_000 {
            return .text("ready")
        }
        return .text(
            last == 0 ? "no ticks yet" : "feed idle for \((now - last) / 1_000_000_000) s", status: .serviceUnavailable)
    }

    private func zstdDictionary(id: Substring) -> HTTPResponse {
        guard let dictionary = hub.engine.compression.zstdDictionary else {
            return .error(.notFound, code: "not_found", message: "this hub does not offer zstd (--zstd off)")
        }
        guard UInt32(id) == dictionary.id else {
            return .error(.notFound, code: "unknown_dictionary", message: "the current dictionary is \(dictionary.id)")
        }
        return HTTPResponse(
            status: .ok, contentType: "application/octet-stream", body: ByteBuffer(bytes: dictionary.bytes))
    }
}
