import FeedModel
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOWebSocket
import Testing
@testable import TickerHub
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Starts a real hub on a free port for one test and stops it afterwards.
func withHub<R>(
    _ configure: (inout HubConfiguration) -> Void = { _ in },
    _ body: (Hub, URL) async throws -> R
) async throws -> R {
    var configuration = HubConfiguration()
    configuration.port = 0
    configuration.eventLoops = 2
    configuration.symbols = .count(50)
    configure(&configuration)
    var logger = Logger(label: "test-hub")
    logger.logLevel = .warning
    let hub = try Hub(configuration: configuration, logger: logger)
    let port = try await hub.start()
    let feed = Task {  // as their services would, until cancelled
        try await withThrowingDiscardingTaskGroup { group in
            if let publication = hub.publication { group.addTask { try await publication.run() } }
            group.addTask { try await hub.feed.run() }
        }
    }
    do {
        let result = try await body(hub, URL(string: "http://127.0.0.1:\(port)")!)
        feed.cancel()
        _ = await feed.result
        await hub.stop()
        return result
    } catch {
        feed.cancel()
        _ = await feed.result
        await hub.stop()
        throw error
    }
}

func get(_ base: URL, _ path: String) async throws -> (Int, String) {
    let (data, response) = try await URLSession.shared.data(from: URL(string: path, relativeTo: base)!)
    return ((response as! HTTPURLResponse).statusCode, String(decoding: data, as: UTF8.self))
}

@Suite(.serialized) struct HubHTTPTests {
    @Test func routesAnswerOverARealSocket() async throws {
        try await withHub { hub, base in
            #expect(try await get(base, "/healthz") == (200, "ok\n"))

            let (symbolsStatus, symbolsBody) = try await get(base, "/v1/symbols")
            let symbols = try JSONSerialization.jsonObject(with: Data(symbolsBody.utf8)) as! [String]
            #expect(symbolsStatus == 200 && symbols.count == 50 && symbols.first == "AAPL")

            // Opening quotes are published at start: every symbol has a snapshot at seq >= 1.
            try await Task.sleep(for: .milliseconds(100))
            let (snapshotStatus, snapshotBody) = try await get(base, "/v1/snapshot?symbols=AAPL,MSFT")
            let snapshots = try JSONSerialization.jsonObject(with: Data(snapshotBody.utf8)) as! [[String: Any]]
            #expect(snapshotStatus == 200)
            #expect(snapshots.map { $0["symbol"] as! String } == ["AAPL", "MSFT"])
            #expect(
                snapshots.allSatisfy {
                    ($0["seq"] as! Int) >= 1 && $0["type"] as? String == "snapshot" && $0["bid"] is String
                })

            let (allStatus, allBody) = try await get(base, "/v1/snapshot")
            let all = try JSONSerialization.jsonObject(with: Data(allBody.utf8)) as! [Any]
            #expect(allStatus == 200 && all.count == 50)

            let (unknownStatus, unknownBody) = try await get(base, "/v1/snapshot?symbols=AAPL,NOPE")
            #expect(unknownStatus == 404 && unknownBody.contains("unknown_symbol"))

            let (statsStatus, statsBody) = try await get(base, "/stats")
            let stats = try JSONSerialization.jsonObject(with: Data(statsBody.utf8)) as! [String: Any]
            #expect(statsStatus == 200)
            for key in [
                "connections", "subscriptions", "ticksIn", "framesEncoded", "deliveries", "flushes", "drops",
                "ringLaps",
                "uptimeMillis", "cpuMicros", "rssBytes",
            ] {
                #expect(stats[key] is Int, "missing \(key)")
            }
            #expect((stats["ticksIn"] as! Int) >= 50)
            #expect((stats["rssBytes"] as! Int) > 1 << 20 && (stats["cpuMicros"] as! Int) > 0)
            let batches = try #require(stats["fanoutBatch"] as? [String: Any])
            #expect((batches["counts"] as! [Int]).count == (batches["boundsMicros"] as! [Int]).count + 1)

            #expect(try await get(base, "/nope").0 == 404)
            #expect(try await get(base, "/ws").0 == 426)
            #expect(try await get(base, "/ingest").0 == 426)
        }
    }

    /// Every script and style the pages name is served from the binary with its content type.
    @Test func pagesAndTheirAssetsAreServedFromTheBinary() async throws {
        try await withHub { _, base in
            for page in ["/", "/ops"] {
                let (status, html) = try await get(base, page)
                #expect(status == 200 && html.hasPrefix("<!doctype html>"))
                var referenced = html.matches(of: /(?:src|href)="(\/assets\/[^"]+)"/).map { String($0.output.1) }
                #expect(!referenced.isEmpty)
                var seen = Set<String>()
                // Scripts are ES modules: follow their imports too.
                while let asset = referenced.popLast() {
                    guard seen.insert(asset).inserted else { continue }
                    let (assetStatus, body) = try await get(base, asset)
                    #expect(assetStatus == 200 && !body.isEmpty, "\(asset) from \(page)")
                    #expect(
                        StaticAssets.byPath[asset]?.contentType.hasPrefix(
                            asset.hasSuffix(".css") ? "text/css" : "text/javascript") == true)
                    referenced += body.matches(of: /from "\.\/([a-z-]+\.js)"/).map { "/assets/" + $0.output.1 }
                }
                if page == "/" {
                    #expect(
                        seen.isSuperset(of: [
                            "/assets/dom.js", "/assets/charts.js", "/assets/prices.js", "/assets/latency.js",
                            "/assets/watchlist-row.js", "/assets/symbol-picker.js", "/assets/tickerhub-client.js",
                        ]))
                } else {
                    #expect(seen.isSuperset(of: ["/assets/ops-probe.js", "/assets/tickerhub-client.js"]))
                }
            }
            // The pages connect through the JavaScript client (clients/js), which opens the WebSocket.
            let (_, script) = try await get(base, "/assets/tickerhub-client.js")
            #expect(script.contains("new this.Impl(url.toString())") && script.contains("export class TickerHubClient"))
            #expect(try await get(base, "/assets/missing.js").0 == 404)
        }
    }

    /// The catalog is the one list: every figure in it is in `/stats` and, where it has a Prometheus
    /// name, in `/metrics` and in docs/PROTOCOL.md; `/stats/catalog` serves it to the operator page.
    @Test func everyCatalogFigureIsInStatsMetricsAndTheDocs() async throws {
        let protocolDoc = try String(
            contentsOf: URL(fileURLWithPath: #filePath)
                .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent("docs/PROTOCOL.md"), encoding: .utf8)
        try await withHub { _, base in
            let (_, statsBody) = try await get(base, "/stats")
            let stats = try JSONSerialization.jsonObject(with: Data(statsBody.utf8)) as! [String: Any]
            let (_, metrics) = try await get(base, "/metrics")
            for descriptor in MetricCatalog.all {
                #expect(stats["\(descriptor.key)"] is Int, "/stats lacks \(descriptor.key)")
                guard let name = descriptor.prometheusName else { continue }
                #expect(metrics.contains("\n\(name)"), "/metrics lacks \(name)")
                #expect(metrics.contains("# HELP \(name) \(descriptor.help)"))
                #expect(protocolDoc.contains("`\(name)"), "docs/PROTOCOL.md lacks \(name)")
            }
            #expect(metrics.contains("tickerhub_fanout_lag_bytes{loop=\"0\"}"))
            #expect((stats["fanoutLagBytes"] as? [Int])?.count == stats["eventLoops"] as? Int)
            let (catalogStatus, catalogBody) = try await get(base, "/stats/catalog")
            let catalog = try JSONSerialization.jsonObject(with: Data(catalogBody.utf8)) as! [[String: String]]
            #expect(catalogStatus == 200 && catalog.count == MetricCatalog.all.count)
            #expect(catalog.first { $0["key"] == "slowConsumerEvictions" }?["label"] == "evictions")
            #expect(
                catalog.first { $0["key"] == "framesZstd" }?["prometheus"]
                    == #"tickerhub_compressed_frames_total{mode="zstd"}"#)
        }
    }

    @Test func batchTimesLandInTheirBuckets() {
        let buckets = BatchLatencyBuckets()
        buckets.record(.microseconds(30))
        buckets.record(.microseconds(50))  // bounds are inclusive
        buckets.record(.microseconds(51))
        buckets.record(.seconds(2))  // above the last bound
        let counts = buckets.bucketCounts
        #expect(counts.count == BatchLatencyBuckets.upperBoundsMicros.count + 1)
        #expect(counts[0] == 2 && counts[1] == 1 && counts.last == 1 && counts.reduce(0, +) == 4)
        #expect(buckets.totalMicros == 30 + 50 + 51 + 2_000_000)
    }
}
