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
/// What is reported comes from `MetricCatalog`, the one list of the hub's figures; every name is
/// prefixed `tickerhub_`, and docs/PROTOCOL.md lists them (a test checks it does).
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
        let reading = MetricReading(hub: hub)
        mirror.withLock { last in
            for descriptor in MetricCatalog.all {
                guard let name = descriptor.prometheusName else { continue }
                let value = descriptor.value(reading)
                switch descriptor.kind {
                case .counter:
                    let key = name + descriptor.labels.map { "\($0.0)=\($0.1)" }.joined()
                    let previous = last[key] ?? 0
                    // Made even while zero: a series that appears only once it moves reads as missing.
                    let counter = registry.makeCounter(name: name, labels: descriptor.labels, help: descriptor.help)
                    if value > previous { counter.increment(by: Double(value - previous) * descriptor.prometheusScale) }
                    last[key] = value
                case .gauge:
                    registry.makeGauge(name: name, labels: descriptor.labels, help: descriptor.help)
                        .set(to: Double(value) * descriptor.prometheusScale)
                }
            }
        }
        for (loop, fanout) in hub.engine.fanouts.enumerated() {
            registry.makeGauge(
                name: "tickerhub_fanout_lag_bytes", labels: [("loop", "\(loop)")],
                help: "Bytes published to the ring that this event loop's fan-out has not read yet"
            )
            .set(to: Double(fanout.lagBytes))
        }
        var bytes: [UInt8] = []
        registry.emit(into: &bytes)
        return ByteBuffer(bytes: bytes)
    }
}
