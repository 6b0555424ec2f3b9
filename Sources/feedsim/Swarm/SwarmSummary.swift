import Foundation
import Histogram

/// The swarm's result, as text for people and JSON for the benchmark harness.
///
/// Top-level numbers cover every client; `fast` and `slow` split them by group when part of the
/// swarm reads slowly (`--slow-fraction`), since the point of such a run is the fast clients' latency.
struct SwarmSummary {
    /// The hub's own drop and throttle counts per connection (its `stats` reply at the end) against
    /// the gaps the clients saw: dropped + throttled must equal the gaps exactly.
    struct DropAccounting {
        var replies, hubDropped, hubThrottled, clientGaps, mismatches: UInt64
        var hubUpstream: UInt64 = 0
    }

    var url: String
    var clients, connected, failed, stillOpen, symbolsPerClient: Int
    var durationSeconds: Double
    var slowClients: Int
    var slowReadBytesPerSecond: Int
    var fast: SwarmLoopStats.Snapshot
    var slow: SwarmLoopStats.Snapshot
    var accounting: DropAccounting
    /// The command line's options, as a JSON object.
    var configurationJSON: String
    /// The measured window (after warm-up), so a harness can line up its own samples of the server.
    var window: (start: Date, end: Date)

    var totals: SwarmLoopStats.Snapshot { .merged([fast, slow]) }

    private func ms(_ stats: SwarmLoopStats.Snapshot, _ percentile: Double) -> Double {
        Double(stats.latency.valueAtPercentile(percentile)) / 1000
    }

    private func rate(_ stats: SwarmLoopStats.Snapshot) -> Double {
        durationSeconds > 0 ? Double(stats.updates) / durationSeconds : 0
    }

    private func latencyLine(_ stats: SwarmLoopStats.Snapshot) -> String {
        """
        p50 \(fmt(ms(stats, 50)))  p90 \(fmt(ms(stats, 90)))  p99 \(fmt(ms(stats, 99)))  p99.9\
         \(fmt(ms(stats, 99.9)))  max \(fmt(Double(stats.latency.max) / 1000))
        """
    }

    var text: String {
        let totals = self.totals
        var text = """
            swarm summary (\(url))
              clients        \(clients) requested, \(connected) connected, \(failed) failed, \(stillOpen) open at end
              subscriptions  \(symbolsPerClient) symbols per client
              measured       \(String(format: "%.1f", durationSeconds)) s
              updates        \(totals.updates) (\(String(format: "%.0f", rate(totals))) messages/s), \(totals.snapshots) snapshots, \(totals.heartbeats) heartbeats
              bytes          \(totals.bytes) (\(String(format: "%.1f", Double(totals.bytes) / max(durationSeconds, 0.001) / 1_048_576)) MiB/s)
              latency ms     \(latencyLine(totals))
              seq gaps       \(totals.gapMessages) missed updates in \(totals.gapEvents) jumps, \(totals.conflated) conflated values, \(totals.seqRegressions) regressions
              errors         \(totals.errors) error messages, \(totals.closedByServer) closed by server (\(totals.evicted) evicted as slow)
              failover       \(totals.reconnects) reconnects (\(totals.reconnectFailures) failed attempts), \(totals.failoverGaps) updates missed while away, \(totals.epochChanges) epoch changes, \(totals.statusMessages) feed status messages
              drop check     \(accounting.replies) stats replies: hub dropped \(accounting.hubDropped) + throttled \(accounting.hubThrottled) + upstream \(accounting.hubUpstream), clients saw \(accounting.clientGaps) missing, \(accounting.mismatches) mismatches
            """
        if slowClients > 0 {
            text += """

                  fast clients   \(clients - slowClients): \(String(format: "%.0f", rate(fast))) messages/s, latency ms \(latencyLine(fast)), gaps \(fast.gapMessages)
                  slow clients   \(slowClients) at \(slowReadBytesPerSecond) B/s: \(String(format: "%.0f", rate(slow))) messages/s, latency ms \(latencyLine(slow)), gaps \(slow.gapMessages), conflated \(slow.conflated), evicted \(slow.evicted)
                """
        }
        return text
    }

    private func groupJSON(_ stats: SwarmLoopStats.Snapshot, count: Int) -> String {
        """
        {"clients":\(count),"updates":\(stats.updates),"messagesPerSecond":\(fmt(rate(stats))),\
        "latencyMs":{"p50":\(fmt(ms(stats, 50))),"p90":\(fmt(ms(stats, 90))),"p99":\(fmt(ms(stats, 99))),"p999":\(fmt(ms(stats, 99.9))),"max":\(fmt(Double(stats.latency.max) / 1000))},\
        "gapMessages":\(stats.gapMessages),"gapEvents":\(stats.gapEvents),"conflated":\(stats.conflated),"evicted":\(stats.evicted),\
        "closedByServer":\(stats.closedByServer)}
        """
    }

    var json: String {
        let totals = self.totals
        return """
            {"url":"\(url)","clients":\(clients),"connected":\(connected),"failed":\(failed),"openAtEnd":\(stillOpen),\
            "symbolsPerClient":\(symbolsPerClient),"durationSeconds":\(fmt(durationSeconds)),"updates":\(totals.updates),\
            "messagesPerSecond":\(fmt(rate(totals))),"snapshots":\(totals.snapshots),"heartbeats":\(totals.heartbeats),"bytes":\(totals.bytes),\
            "latencyMs":{"p50":\(fmt(ms(totals, 50))),"p90":\(fmt(ms(totals, 90))),"p99":\(fmt(ms(totals, 99))),"p999":\(fmt(ms(totals, 99.9))),"max":\(fmt(Double(totals.latency.max) / 1000))},\
            "gapMessages":\(totals.gapMessages),"gapEvents":\(totals.gapEvents),"conflated":\(totals.conflated),\
            "seqRegressions":\(totals.seqRegressions),"errors":\(totals.errors),"closedByServer":\(totals.closedByServer),"evicted":\(totals.evicted),\
            "reconnects":\(totals.reconnects),"reconnectFailures":\(totals.reconnectFailures),"failoverGaps":\(totals.failoverGaps),\
            "epochChanges":\(totals.epochChanges),"statusMessages":\(totals.statusMessages),\
            "slowReadBytesPerSecond":\(slowReadBytesPerSecond),\
            "fast":\(groupJSON(fast, count: clients - slowClients)),"slow":\(groupJSON(slow, count: slowClients)),\
            "dropAccounting":{"statsReplies":\(accounting.replies),"hubDropped":\(accounting.hubDropped),"hubThrottled":\(accounting.hubThrottled),"hubUpstream":\(accounting.hubUpstream),"clientGaps":\(accounting.clientGaps),"mismatches":\(accounting.mismatches)},\
            "config":\(configurationJSON),\
            "window":{"startUnixSeconds":\(fmt(window.start.timeIntervalSince1970)),"endUnixSeconds":\(fmt(window.end.timeIntervalSince1970))},\
            "latencyHistogramMicros":\(histogramJSON(totals.latency))}
            """
    }

    /// Every recorded latency bucket as `[microseconds, count]`, so several swarm processes'
    /// histograms can be merged exactly (percentiles of percentiles would be wrong).
    private func histogramJSON(_ histogram: Histogram<UInt64>) -> String {
        "[" + histogram.recordedValues().map { "[\($0.value),\($0.count)]" }.joined(separator: ",") + "]"
    }

    private func fmt(_ value: Double) -> String { String(format: "%.3f", value) }
}
