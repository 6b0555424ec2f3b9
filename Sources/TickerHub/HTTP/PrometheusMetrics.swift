import FanoutEngine
import Metrics
import NIOCore
import Prometheus
import Synchronization

/// `GET /metrics`: the hub's counters in the Prometheus text format, through swift-prometheus.
///
/// The hot path keeps its own relaxed atomics (`FanoutCounters`, `HubMetrics`), added to once per
/// batch; a scrape mirrors them into the registry (counters by the increase since the last scrape,
/// gauges by value), so metrics cost nothing per delivery. The fan-out batch histogram is recorded
/// directly, once per drain. The registry is also swift-metrics' backend in the `tickerhub`
/// process (`bootstrapSwiftMetrics`), so code using swift-metrics lands here too.
///
/// Every name is prefixed `tickerhub_`; docs/PROTOCOL.md lists them.
final class PrometheusMetrics: Sendable {
    let registry: PrometheusCollectorRegistry
    /// Each mirrored counter's value at the last scrape.
    private let mirror = Mutex<[String: UInt64]>([:])
    /// Fan-out batch latency: from a loop's wake-up to its last flush, per drain.
    let batchLatency: DurationHistogram

    init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        batchLatency = registry.makeDurationHistogram(
            name: "tickerhub_fanout_batch_seconds",
            // The same bounds as /stats' `fanoutBatch`, so the two views of batch time agree.
            buckets: BatchLatencyBuckets.upperBoundsMicros.map { .microseconds(Int64($0)) },
            help: "Time one event loop spends on one fan-out batch (read, write, flush)")
    }

    /// Makes swift-metrics report into this registry. Once per process (the `tickerhub` command).
    func bootstrapSwiftMetrics() {
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
    }

    func render(hub: Hub) -> ByteBuffer {
        let fanout = hub.engine.counters.snapshot()
        let metrics = hub.metrics
        let usage = ProcessUsage.current()
        let counters: [(String, String, UInt64, [(String, String)])] = [
            ("tickerhub_ticks_in_total", "Ticks accepted from the feed and sequenced", fanout.ticksIn, []),
            ("tickerhub_frames_encoded_total", "Frames built for the ring (one per tick)", fanout.framesEncoded, []),
            ("tickerhub_compressed_frames_total", "Shared compressed frames built (at most one per tick and mode)", fanout.framesDeflated, [("mode", "deflate")]),
            ("tickerhub_compressed_frames_total", "Shared compressed frames built (at most one per tick and mode)", fanout.framesZstd, [("mode", "zstd")]),
            ("tickerhub_compressed_bytes_total", "Bytes of shared compressed frames built", fanout.deflatedBytes, [("mode", "deflate")]),
            ("tickerhub_compressed_bytes_total", "Bytes of shared compressed frames built", fanout.zstdBytes, [("mode", "zstd")]),
            ("tickerhub_deliveries_total", "Frames written to subscribers", fanout.deliveries, []),
            ("tickerhub_flushes_total", "Socket flushes (each at most one write)", fanout.flushes, []),
            ("tickerhub_dropped_total", "Updates subscribers will never get, shown to them as seq gaps", fanout.drops, []),
            ("tickerhub_conflated_total", "Latest-value messages sent in place of skipped updates", fanout.conflated, []),
            ("tickerhub_throttled_total", "Updates skipped by subscriptions' maxFrequency, shown to them as seq gaps", fanout.throttled, []),
            ("tickerhub_ring_laps_total", "Times an event loop's consumer was lapped by the ring's writer", fanout.ringLaps, []),
            ("tickerhub_late_records_total", "Ring records an event loop reached more than --max-fanout-lag-ms after publishing, and conflated to the latest values instead of sending (overload shedding)", fanout.lateRecords, []),
            ("tickerhub_evictions_total", "Connections closed with 4008 slow consumer", metrics.slowConsumerEvictions.load(ordering: .relaxed), []),
            ("tickerhub_connections_accepted_total", "Subscriber connections accepted", metrics.subscribersAccepted.load(ordering: .relaxed), []),
            ("tickerhub_request_errors_total", "Requests answered with an error message", metrics.requestErrors.load(ordering: .relaxed), []),
            ("tickerhub_protocol_violations_total", "Connections closed for a protocol violation", metrics.protocolViolations.load(ordering: .relaxed), []),
            ("tickerhub_ping_timeouts_total", "Connections closed for not answering pings", metrics.pingTimeouts.load(ordering: .relaxed), []),
            ("tickerhub_http_requests_total", "Plain HTTP requests served", metrics.httpRequests.load(ordering: .relaxed), []),
        ]
        mirror.withLock { last in
            for (name, help, value, labels) in counters {
                let key = name + labels.map { "\($0.0)=\($0.1)" }.joined()
                let counter = registry.makeCounter(name: name, labels: labels, help: help)
                let previous = last[key] ?? 0
                if value > previous { counter.increment(by: Int64(value - previous)) }
                last[key] = value
            }
            // CPU time is a counter in seconds, mirrored from microseconds like the others.
            let cpu = usage.cpuMicroseconds
            let previous = last["process_cpu"] ?? 0
            if cpu > previous {
                registry.makeCounter(name: "tickerhub_process_cpu_seconds_total", labels: [],
                                     help: "User and system CPU time of the hub process")
                    .increment(by: Double(cpu - previous) / 1_000_000)
            }
            last["process_cpu"] = cpu
        }
        let gauges: [(String, String, Double)] = [
            ("tickerhub_connections", "Subscriber connections open", Double(metrics.subscribersConnected.load(ordering: .relaxed))),
            ("tickerhub_subscriptions", "Subscriptions (connection x symbol)", Double(fanout.subscriptions)),
            ("tickerhub_backlogged_connections", "Connections whose backlog is full now", Double(metrics.backloggedConnections.load(ordering: .relaxed))),
            ("tickerhub_publishers", "Ingest publishers connected", Double(metrics.publishersConnected.load(ordering: .relaxed))),
            ("tickerhub_symbols", "Symbols known to the hub", Double(hub.engine.directory.count)),
            ("tickerhub_process_resident_memory_bytes", "Resident memory of the hub process", Double(usage.residentBytes)),
        ]
        for (name, help, value) in gauges {
            registry.makeGauge(name: name, help: help).set(to: value)
        }
        var bytes: [UInt8] = []
        registry.emit(into: &bytes)
        return ByteBuffer(bytes: bytes)
    }
}
