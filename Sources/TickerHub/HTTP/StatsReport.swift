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
        json.field("backloggedConnections", metrics.backloggedConnections.load(ordering: .relaxed))
        json.field("slowConsumerEvictions", metrics.slowConsumerEvictions.load(ordering: .relaxed))
        json.field("ringLaps", fanout.ringLaps)
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
        json.endObject()
        return json.buffer
    }
}
