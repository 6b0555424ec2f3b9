import FanoutEngine
import FeedModel
import NIOCore

/// Every figure the hub reports, described once: its key in `/stats`, its name and help in
/// `/metrics`, and its label on the operator page (`/ops`), which reads this table from
/// `/stats/catalog`. Adding a figure here adds it to all three; nothing else lists them.
struct MetricDescriptor: Sendable {
    enum Kind: String, Sendable {
        /// A total since start; Prometheus gets the increase since the last scrape.
        case counter
        /// A level now.
        case gauge
    }

    /// The field in `/stats`.
    let key: StaticString
    /// The Prometheus name (without labels); nil for a figure only `/stats` has.
    let prometheusName: String?
    /// Labels that tell this series apart from others with the same Prometheus name.
    var labels: [(String, String)] = []
    let kind: Kind
    let help: String
    /// Its label among the totals on the operator page; nil: not shown there.
    var opsLabel: String?
    /// Multiplies the `/stats` value into Prometheus' unit (microseconds into seconds, say).
    var prometheusScale = 1.0
    /// The value, in `/stats`' unit.
    let value: @Sendable (MetricReading) -> UInt64
}

/// One reading of everything the descriptors read, taken once per request.
struct MetricReading {
    let fanout: FanoutCounters.Snapshot
    let metrics: HubMetrics
    let feed: FeedStatusBoard
    let usage: ProcessUsage
    let symbols: Int

    init(hub: Hub) {
        fanout = hub.engine.counters.snapshot()
        metrics = hub.metrics
        feed = hub.feedStatus
        usage = ProcessUsage.current()
        symbols = hub.engine.directory.count
    }
}
