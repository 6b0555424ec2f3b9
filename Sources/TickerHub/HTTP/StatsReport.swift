import FeedModel
import NIOCore

/// The `/stats` document: what the hub has done since start, for operators and load tests. Its
/// figures are `MetricCatalog`'s; the rest says how the hub is set up, how far behind each loop's
/// fan-out is (`fanoutLagBytes`), and the fan-out batch times.
struct StatsReport {
    let hub: Hub

    func json() -> ByteBuffer {
        let reading = MetricReading(hub: hub)
        var json = JSONWriter(buffer: ByteBuffer())
        json.beginObject()
        for descriptor in MetricCatalog.all {
            json.field(descriptor.key, descriptor.value(reading))
        }
        // How the hub is set up, for reading the figures.
        json.field("ringBytes", hub.engine.ring.capacity)
        json.field("maxBacklogBytes", hub.configuration.maxBacklogBytes)
        json.field("eventLoops", hub.engine.fanouts.count)
        json.beginArray(key: "fanoutLagBytes")
        for fanout in hub.engine.fanouts { json.integer(fanout.lagBytes) }
        json.endArray()
        batchLatency(into: &json)
        json.endObject()
        return json.buffer
    }

    /// `"fanoutBatch": {"sumMicros": S, "boundsMicros": [50, ...], "counts": [n0, ..., nOverflow]}`:
    /// the `/ops` page takes two readings and computes a percentile from the difference.
    private func batchLatency(into json: inout JSONWriter) {
        let buckets = hub.metrics.fanoutBatches
        json.key("fanoutBatch")
        json.beginObject()
        json.field("sumMicros", buckets.totalMicros)
        json.beginArray(key: "boundsMicros")
        for bound in BatchLatencyBuckets.upperBoundsMicros { json.integer(bound) }
        json.endArray()
        json.beginArray(key: "counts")
        for count in buckets.bucketCounts { json.integer(count) }
        json.endArray()
        json.endObject()
    }
}
