import FeedModel
import NIOCore

/// The `/stats` document: what the hub has done since start, for operators and load tests.
struct StatsReport {
    let hub: Hub

    func json() -> ByteBuffer {
        let fanout = hub.engine.counters.snapshot()
        let metrics = hub.metrics
        var json = JSONWriter(buffer: ByteBuffer())
        json.beginObject()
        json.field("connections", metrics.subscribersConnected.load(ordering: .relaxed))
        json.field("connectionsAccepted", metrics.subscribersAccepted.load(ordering: .relaxed))
        json.field("publishers", metrics.publishersConnected.load(ordering: .relaxed))
        json.field("subscriptions", fanout.subscriptions)
        json.field("symbols", hub.engine.directory.count)
        json.field("ticksIn", fanout.ticksIn)
        json.field("framesEncoded", fanout.framesEncoded)
        json.field("framesDeflated", fanout.framesDeflated)
        json.field("framesZstd", fanout.framesZstd)
        json.field("deliveries", fanout.deliveries)
        json.field("flushes", fanout.flushes)
        json.field("drops", fanout.drops)
        json.field("conflated", fanout.conflated)
        json.field("throttled", fanout.throttled)
        json.field("backloggedConnections", metrics.backloggedConnections.load(ordering: .relaxed))
        json.field("slowConsumerEvictions", metrics.slowConsumerEvictions.load(ordering: .relaxed))
        json.field("ringLaps", fanout.ringLaps)
        json.field("lateRecords", fanout.lateRecords)
        json.field("drains", fanout.drains)
        json.field("requestErrors", metrics.requestErrors.load(ordering: .relaxed))
        json.field("protocolViolations", metrics.protocolViolations.load(ordering: .relaxed))
        json.field("pingTimeouts", metrics.pingTimeouts.load(ordering: .relaxed))
        json.field("ingestBatches", metrics.ingestBatches.load(ordering: .relaxed))
        json.field("ingestRejected", metrics.ingestRejected.load(ordering: .relaxed))
        json.field("httpRequests", metrics.httpRequests.load(ordering: .relaxed))
        json.field("ringBytes", hub.engine.ring.capacity)
        json.field("maxBacklogBytes", hub.configuration.maxBacklogBytes)
        json.field("eventLoops", hub.engine.allFanouts.count)
        let usage = ProcessUsage.current()
        let uptime = (ContinuousClock.now - metrics.startedAt).components
        json.field("uptimeMillis", uptime.seconds * 1000 + uptime.attoseconds / 1_000_000_000_000_000)
        json.field("cpuMicros", usage.cpuMicroseconds)
        json.field("rssBytes", usage.residentBytes)
        json.field("heapBytes", usage.heapBytes)
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
