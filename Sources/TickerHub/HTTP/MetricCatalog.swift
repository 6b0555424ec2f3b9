import FanoutEngine
import FeedModel
import NIOCore

/// Every figure the hub reports, in one table (`MetricDescriptor`): adding a figure here adds it to
/// `/stats`, `/metrics` and the operator page; nothing else lists them.
enum MetricCatalog {
    static let all: [MetricDescriptor] = [
        // Connections
        MetricDescriptor(
            key: "connections", prometheusName: "tickerhub_connections", kind: .gauge,
            help: "Subscriber connections open"
        ) { UInt64($0.metrics.subscribersConnected.load(ordering: .relaxed)) },
        MetricDescriptor(
            key: "connectionsAccepted", prometheusName: "tickerhub_connections_accepted_total", kind: .counter,
            help: "Subscriber connections accepted", opsLabel: "connections accepted"
        ) { $0.metrics.subscribersAccepted.load(ordering: .relaxed) },
        MetricDescriptor(
            key: "publishers", prometheusName: "tickerhub_publishers", kind: .gauge,
            help: "Ingest publishers connected", opsLabel: "publishers"
        ) { UInt64($0.metrics.publishersConnected.load(ordering: .relaxed)) },
        MetricDescriptor(
            key: "subscriptions", prometheusName: "tickerhub_subscriptions", kind: .gauge,
            help: "Subscriptions (connection x symbol)", opsLabel: "subscriptions"
        ) { UInt64(max(0, $0.fanout.subscriptions)) },
        MetricDescriptor(
            key: "symbols", prometheusName: "tickerhub_symbols", kind: .gauge,
            help: "Symbols known to the hub", opsLabel: "symbols"
        ) { UInt64($0.symbols) },
        // Feed and encoding
        MetricDescriptor(
            key: "ticksIn", prometheusName: "tickerhub_ticks_in_total", kind: .counter,
            help: "Ticks accepted from the feed and sequenced", opsLabel: "ticks in"
        ) { $0.fanout.ticksIn },
        MetricDescriptor(
            key: "framesEncoded", prometheusName: "tickerhub_frames_encoded_total", kind: .counter,
            help: "Frames built for the ring (one per message: a tick, and its channel, book and bar messages)",
            opsLabel: "frames encoded"
        ) { $0.fanout.framesEncoded },
        MetricDescriptor(
            key: "framesDeflated", prometheusName: "tickerhub_compressed_frames_total", labels: [("mode", "deflate")],
            kind: .counter,
            help: "Shared compressed frames built (at most one per ring message and mode)", opsLabel: "frames deflated"
        ) { $0.fanout.framesDeflated },
        MetricDescriptor(
            key: "framesZstd", prometheusName: "tickerhub_compressed_frames_total", labels: [("mode", "zstd")],
            kind: .counter,
            help: "Shared compressed frames built (at most one per ring message and mode)", opsLabel: "frames zstd"
        ) { $0.fanout.framesZstd },
        MetricDescriptor(
            key: "deflatedBytes", prometheusName: "tickerhub_compressed_bytes_total", labels: [("mode", "deflate")],
            kind: .counter,
            help: "Bytes of shared compressed frames built"
        ) { $0.fanout.deflatedBytes },
        MetricDescriptor(
            key: "zstdBytes", prometheusName: "tickerhub_compressed_bytes_total", labels: [("mode", "zstd")],
            kind: .counter,
            help: "Bytes of shared compressed frames built"
        ) { $0.fanout.zstdBytes },
        MetricDescriptor(
            key: "bookUpdatesIn", prometheusName: "tickerhub_book_updates_in_total", kind: .counter,
            help: "Order book changes accepted from the feed (each gives a bookUpdate per depth whose levels changed)",
            opsLabel: "book updates in"
        ) { $0.fanout.bookUpdatesIn },
        MetricDescriptor(
            key: "bookUpdatesRefused", prometheusName: "tickerhub_book_updates_refused_total", kind: .counter,
            help: "Order book changes refused: a negative size, or a price on another scale than the book's",
            opsLabel: "book updates refused"
        ) { $0.fanout.bookUpdatesRefused },
        MetricDescriptor(
            key: "bookUpdatesAwaitingBook", prometheusName: "tickerhub_book_updates_awaiting_book_total",
            kind: .counter,
            help:
                """
                Numbered book changes dropped because the book does not follow on from a whole one (a\
                 publisher's seq jumped, or the hub joined mid-stream), until a whole book comes
                """,
            opsLabel: "book changes awaiting a whole book"
        ) { $0.fanout.bookUpdatesAwaitingBook },
        MetricDescriptor(
            key: "oversizeRecords", prometheusName: "tickerhub_oversize_records_total", kind: .counter,
            help:
                """
                Messages too big for one ring record (a whole deep book with a small --ring-bytes), sent as the\
                 latest value instead
                """,
            opsLabel: "oversize records"
        ) { $0.fanout.oversizeRecords },
        MetricDescriptor(
            key: "upstreamGaps", prometheusName: "tickerhub_upstream_gaps_total", kind: .counter,
            help:
                """
                Updates a numbering feed (NATS, ingest with seqs) skipped: its seq jumped, and clients see the\
                 same gap
                """,
            opsLabel: "upstream gaps"
        ) { $0.fanout.upstreamGaps },
        MetricDescriptor(
            key: "upstreamStale", prometheusName: "tickerhub_upstream_stale_total", kind: .counter,
            help: "Updates from a numbering feed at or below the symbol's seq (repeated or out of order), dropped",
            opsLabel: "upstream stale"
        ) { $0.fanout.upstreamStale },
        MetricDescriptor(
            key: "upstreamRefused", prometheusName: "tickerhub_upstream_refused_total", kind: .counter,
            help: "Updates from a numbering feed whose seq is above 2^53 - 1, refused",
            opsLabel: "upstream refused"
        ) { $0.fanout.upstreamRefused },
        MetricDescriptor(
            key: "feedStale", prometheusName: "tickerhub_feed_stale", kind: .gauge,
            help: "1 while the feed's upstream is lost (NATS unreachable) and the hub serves its last values"
        ) {
            if case .stale = $0.feed.condition { 1 } else { 0 }
        },
        MetricDescriptor(
            key: "feedWarm", prometheusName: "tickerhub_feed_warm", kind: .gauge,
            help: "1 once every symbol has a value (a NATS-fed hub: after its warm-start snapshot)"
        ) { $0.feed.isWarm ? 1 : 0 },
        MetricDescriptor(
            key: "feedUpstreamLosses", prometheusName: "tickerhub_feed_upstream_losses_total", kind: .counter,
            help: "Times the feed's upstream was lost (subscribers told: status stale)",
            opsLabel: "upstream losses"
        ) { $0.feed.upstreamLosses.load(ordering: .relaxed) },
        MetricDescriptor(
            key: "feedEpochChanges", prometheusName: "tickerhub_feed_epoch_changes_total", kind: .counter,
            help: "Times the feed's publisher restarted its numbering (subscribers closed with 1012 to re-base)",
            opsLabel: "epoch changes"
        ) { $0.feed.epochChanges.load(ordering: .relaxed) },
        MetricDescriptor(
            key: "feedRejected", prometheusName: "tickerhub_feed_rejected_total", kind: .counter,
            help: "Feed messages refused: not the tick encoding, no epoch, or the symbol table full",
            opsLabel: "feed rejected"
        ) { $0.feed.rejectedMessages.load(ordering: .relaxed) },
        MetricDescriptor(
            key: "ingestBatches", prometheusName: "tickerhub_ingest_batches_total", kind: .counter,
            help: "Tick batches accepted from ingest publishers", opsLabel: "ingest batches"
        ) { $0.metrics.ingestBatches.load(ordering: .relaxed) },
        MetricDescriptor(
            key: "ingestRejected", prometheusName: "tickerhub_ingest_rejected_total", kind: .counter,
            help: "Ingest publishers closed for a bad batch", opsLabel: "ingest rejected"
        ) { $0.metrics.ingestRejected.load(ordering: .relaxed) },
        // Fan-out
        MetricDescriptor(
            key: "deliveries", prometheusName: "tickerhub_deliveries_total", kind: .counter,
            help: "Frames written to subscribers", opsLabel: "deliveries"
        ) { $0.fanout.deliveries },
        MetricDescriptor(
            key: "flushes", prometheusName: "tickerhub_flushes_total", kind: .counter,
            help: "Socket flushes (each at most one write)", opsLabel: "socket writes"
        ) { $0.fanout.flushes },
        MetricDescriptor(
            key: "drains", prometheusName: "tickerhub_drains_total", kind: .counter,
            help: "Fan-out drains run by the event loops"
        ) { $0.fanout.drains },
        MetricDescriptor(
            key: "drops", prometheusName: "tickerhub_dropped_total", kind: .counter,
            help: "Updates subscribers will never get, shown to them as seq gaps", opsLabel: "dropped"
        ) { $0.fanout.drops },
        MetricDescriptor(
            key: "conflated", prometheusName: "tickerhub_conflated_total", kind: .counter,
            help: "Latest-value messages sent in place of skipped updates", opsLabel: "conflated"
        ) { $0.fanout.conflated },
        MetricDescriptor(
            key: "throttled", prometheusName: "tickerhub_throttled_total", kind: .counter,
            help: "Updates skipped by subscriptions' maxFrequency, shown to them as seq gaps", opsLabel: "throttled"
        ) { $0.fanout.throttled },
        MetricDescriptor(
            key: "ringLaps", prometheusName: "tickerhub_ring_laps_total", kind: .counter,
            help: "Times an event loop's consumer was lapped by the ring's writer", opsLabel: "ring laps"
        ) { $0.fanout.ringLaps },
        MetricDescriptor(
            key: "lateRecords", prometheusName: "tickerhub_late_records_total", kind: .counter,
            help:
                """
                Ring records an event loop reached more than --max-fanout-lag-ms after publishing, and conflated\
                 to the latest values instead of sending (overload shedding)
                """,
            opsLabel: "late records"
        ) { $0.fanout.lateRecords },
        MetricDescriptor(
            key: "owedCheckCatchUps", prometheusName: "tickerhub_owed_check_catchups_total", kind: .counter,
            help:
                """
                Slow subscribers caught up by the periodic owed check, their connection having drained without a\
                 writability event doing it first
                """,
            opsLabel: "owed-check catch-ups"
        ) { $0.fanout.owedCheckCatchUps },
        // Recovery (`--history`)
        MetricDescriptor(
            key: "recoveredSymbols", prometheusName: "tickerhub_recoveries_total", labels: [("result", "recovered")],
            kind: .counter,
            help:
                """
                Symbols resumed with since: recovered from the history, or given a snapshot because it no longer\
                 held what they missed
                """,
            opsLabel: "symbols recovered"
        ) { $0.metrics.recoveredSymbols.load(ordering: .relaxed) },
        MetricDescriptor(
            key: "unrecoveredSymbols", prometheusName: "tickerhub_recoveries_total", labels: [("result", "snapshot")],
            kind: .counter,
            help:
                """
                Symbols resumed with since: recovered from the history, or given a snapshot because it no longer\
                 held what they missed
                """,
            opsLabel: "not recovered"
        ) { $0.metrics.unrecoveredSymbols.load(ordering: .relaxed) },
        MetricDescriptor(
            key: "replayedUpdates", prometheusName: "tickerhub_replayed_updates_total", kind: .counter,
            help: "Updates replayed from the history to recovering clients", opsLabel: "updates replayed"
        ) { $0.metrics.replayedUpdates.load(ordering: .relaxed) },
        // Slow and misbehaving clients
        MetricDescriptor(
            key: "backloggedConnections", prometheusName: "tickerhub_backlogged_connections", kind: .gauge,
            help: "Connections whose backlog is full now"
        ) { UInt64(max(0, $0.metrics.backloggedConnections.load(ordering: .relaxed))) },
        MetricDescriptor(
            key: "slowConsumerEvictions", prometheusName: "tickerhub_evictions_total", kind: .counter,
            help: "Connections closed with 4008 slow consumer", opsLabel: "evictions"
        ) { $0.metrics.slowConsumerEvictions.load(ordering: .relaxed) },
        MetricDescriptor(
            key: "httpUnreadCloses", prometheusName: "tickerhub_http_unread_closes_total", kind: .counter,
            help: "HTTP connections closed for leaving their answers unread past --slow-client-timeout",
            opsLabel: "HTTP unread"
        ) { $0.metrics.httpUnreadCloses.load(ordering: .relaxed) },
        MetricDescriptor(
            key: "pingTimeouts", prometheusName: "tickerhub_ping_timeouts_total", kind: .counter,
            help: "Connections closed for not answering pings", opsLabel: "ping timeouts"
        ) { $0.metrics.pingTimeouts.load(ordering: .relaxed) },
        MetricDescriptor(
            key: "protocolViolations", prometheusName: "tickerhub_protocol_violations_total", kind: .counter,
            help: "Connections closed for a protocol violation", opsLabel: "protocol violations"
        ) { $0.metrics.protocolViolations.load(ordering: .relaxed) },
        MetricDescriptor(
            key: "rateLimited", prometheusName: "tickerhub_rate_limited_total", kind: .counter,
            help: "Connections closed with 1008 for sending requests too fast", opsLabel: "rate limited"
        ) { $0.metrics.rateLimited.load(ordering: .relaxed) },
        MetricDescriptor(
            key: "handshakesRefused", prometheusName: "tickerhub_handshakes_refused_total", kind: .counter,
            help:
                """
                Requests refused at the door: WebSocket handshakes past the connection limits (503 or 429), and\
                 request heads past --max-header-bytes (431)
                """,
            opsLabel: "handshakes refused"
        ) { $0.metrics.handshakesRefused.load(ordering: .relaxed) },
        MetricDescriptor(
            key: "authRefusals", prometheusName: "tickerhub_auth_refusals_total", kind: .counter,
            help: "Requests refused for their access token (401) or a publisher without the right (403)",
            opsLabel: "auth refused"
        ) { $0.metrics.authRefusals.load(ordering: .relaxed) },
        MetricDescriptor(
            key: "tokenExpiries", prometheusName: "tickerhub_token_expiries_total", kind: .counter,
            help: "Connections closed with 4001 because their access token lapsed", opsLabel: "tokens expired"
        ) { $0.metrics.tokenExpiries.load(ordering: .relaxed) },
        MetricDescriptor(
            key: "entitlementRefusals", prometheusName: "tickerhub_entitlement_refusals_total", kind: .counter,
            help: "Requests answered not_entitled, for symbols the access token does not grant",
            opsLabel: "not entitled"
        ) { $0.metrics.entitlementRefusals.load(ordering: .relaxed) },
        MetricDescriptor(
            key: "acceptFailures", prometheusName: "tickerhub_accept_failures_total", kind: .counter,
            help: "Times accepting a connection failed (mostly out of file descriptors) and the listener paused",
            opsLabel: "accept failures"
        ) { $0.metrics.acceptFailures.load(ordering: .relaxed) },
        MetricDescriptor(
            key: "requestTimeouts", prometheusName: "tickerhub_request_timeouts_total", kind: .counter,
            help: "Connections closed for not finishing an HTTP request or handshake in time",
            opsLabel: "request timeouts"
        ) { $0.metrics.requestTimeouts.load(ordering: .relaxed) },
        MetricDescriptor(
            key: "awaitingFirstByte", prometheusName: "tickerhub_connections_awaiting_first_byte", kind: .gauge,
            help:
                """
                Connections accepted that have sent no byte yet; from 256 on, the hub is in a connection storm\
                 and gives them up to 30 s
                """
        ) { UInt64(max(0, $0.metrics.firstByteWaits.count)) },
        MetricDescriptor(
            key: "requestErrors", prometheusName: "tickerhub_request_errors_total", kind: .counter,
            help: "Requests answered with an error message", opsLabel: "request errors"
        ) { $0.metrics.requestErrors.load(ordering: .relaxed) },
        MetricDescriptor(
            key: "httpRequests", prometheusName: "tickerhub_http_requests_total", kind: .counter,
            help: "Plain HTTP requests served"
        ) { $0.metrics.httpRequests.load(ordering: .relaxed) },
        // The process
        MetricDescriptor(
            key: "cpuMicros", prometheusName: "tickerhub_process_cpu_seconds_total", kind: .counter,
            help: "User and system CPU time of the hub process", prometheusScale: 1e-6
        ) { $0.usage.cpuMicroseconds },
        MetricDescriptor(
            key: "rssBytes", prometheusName: "tickerhub_process_resident_memory_bytes", kind: .gauge,
            help: "Resident memory of the hub process"
        ) { $0.usage.residentBytes },
        MetricDescriptor(
            key: "heapBytes", prometheusName: "tickerhub_process_heap_bytes", kind: .gauge,
            help: "Bytes allocated by the hub and not freed (glibc mallinfo2)"
        ) { $0.usage.heapBytes },
        MetricDescriptor(
            key: "uptimeMillis", prometheusName: nil, kind: .gauge,
            help: "Milliseconds since the hub started"
        ) { reading in
            let uptime = (ContinuousClock.now - reading.metrics.startedAt).components
            return UInt64(uptime.seconds * 1000 + uptime.attoseconds / 1_000_000_000_000_000)
        },
    ]

    /// The catalog itself, for the operator page (`GET /stats/catalog`): each figure's key, kind,
    /// help, Prometheus name and, where it has one, its label on the page.
    static func json() -> ByteBuffer {
        var json = JSONWriter(buffer: ByteBuffer())
        json.beginArrayValue()
        for descriptor in all {
            json.beginObject()
            json.field("key", "\(descriptor.key)")
            json.field("kind", descriptor.kind.rawValue)
            json.field("help", descriptor.help)
            if let name = descriptor.prometheusName {
                json.field("prometheus", name + descriptor.labels.map { "{\($0.0)=\"\($0.1)\"}" }.joined())
            }
            if let label = descriptor.opsLabel { json.field("label", label) }
            json.endObject()
        }
        json.endArray()
        return json.buffer
    }
}
