import NIOCore

/// The web pages (`GET /`, `GET /ops`) and their scripts and styles under `/assets/`.
///
/// The files live in `Dashboard/Assets/` as plain HTML, CSS and JavaScript ES modules (no build
/// step: each page loads one module, which imports the shared ones), and SwiftPM compiles them into
/// the binary (`.embedInCode`, which generates `PackageResources`), so `tickerhub` stays one
/// self-contained executable with no CDN, no bundle directory and no internet. Each body is a
/// `ByteBuffer` built once; responses share its storage.
enum StaticAssets {
    struct Asset: Sendable {
        let contentType: String
        let body: ByteBuffer
    }

    /// Request path -> asset.
    static let byPath: [String: Asset] = [
        "/": html(PackageResources.index_html),
        "/ops": html(PackageResources.ops_html),
        "/assets/style.css": Asset(
            contentType: "text/css; charset=utf-8", body: ByteBuffer(bytes: PackageResources.style_css)),
        "/assets/charts.js": script(PackageResources.charts_js),
        "/assets/watchlist.js": script(PackageResources.watchlist_js),
        "/assets/ops.js": script(PackageResources.ops_js),
        "/assets/dom.js": script(PackageResources.dom_js),
        "/assets/prices.js": script(PackageResources.prices_js),
        "/assets/latency.js": script(PackageResources.latency_js),
        "/assets/watchlist-row.js": script(PackageResources.watchlist_row_js),
        "/assets/detail-panel.js": script(PackageResources.detail_panel_js),
        "/assets/depth-ladder.js": script(PackageResources.depth_ladder_js),
        "/assets/trade-tape.js": script(PackageResources.trade_tape_js),
        "/assets/symbol-picker.js": script(PackageResources.symbol_picker_js),
        "/assets/access-token.js": script(PackageResources.access_token_js),
        "/assets/ops-probe.js": script(PackageResources.ops_probe_js),
        // The JavaScript client (clients/js), linked into Assets so the pages use the very file users get.
        "/assets/tickerhub-client.js": script(PackageResources.tickerhub_client_js),
        "/assets/tickerhub-books.js": script(PackageResources.tickerhub_books_js),
    ]

    private static func html(_ bytes: [UInt8]) -> Asset {
        Asset(contentType: "text/html; charset=utf-8", body: ByteBuffer(bytes: bytes))
    }

    private static func script(_ bytes: [UInt8]) -> Asset {
        Asset(contentType: "text/javascript; charset=utf-8", body: ByteBuffer(bytes: bytes))
    }
}
