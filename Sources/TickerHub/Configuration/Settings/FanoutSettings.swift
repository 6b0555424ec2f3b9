import ArgumentParser
import FanoutEngine
import NIOCore

/// The fan-out engine and slow clients: the ring, each connection's backlog and send buffer, when a
/// slow client is given up on, and how a loop paces and sheds its drains.
struct FanoutSettings: ParsableArguments {
    @Option(help: "Broadcast ring size in bytes, a power of two. (env TICKERHUB_RING_BYTES)")
    var ringBytes: Int?

    @Option(
        help:
            """
            Most bytes the hub queues for one connection; past it, updates are conflated to the latest value per\
             symbol. (env TICKERHUB_MAX_BACKLOG_BYTES)
            """
    )
    var maxBacklogBytes: Int?

    @Option(
        help:
            """
            Kernel send buffer per connection (SO_SNDBUF) in bytes; 0 keeps the OS's auto-tuning. (env\
             TICKERHUB_SOCKET_SEND_BUFFER)
            """
    )
    var socketSendBuffer: Int?

    @Option(
        help:
            """
            Seconds a connection's backlog may stay full before it is closed with 4008 \"slow consumer\". (env\
             TICKERHUB_SLOW_CLIENT_TIMEOUT)
            """
    )
    var slowClientTimeout: Double?

    @Option(
        help:
            """
            Longest a loop may defer fan-out after new ticks, in milliseconds, so more of them share each socket\
             write; it adapts to load (the previous fan-out's duration, up to this). 0 fans out at once. (env\
             TICKERHUB_MAX_DRAIN_DELAY_MS)
            """
    )
    var maxDrainDelayMs: Double?

    @Option(
        help:
            """
            Longest one fan-out drain holds its event loop before the loop serves its sockets again, in\
             milliseconds. (env TICKERHUB_DRAIN_BUDGET_MS)
            """
    )
    var drainBudgetMs: Double?

    @Option(
        help:
            """
            A loop that reaches a tick later than this after it was published, in milliseconds, conflates its\
             backlog to the latest value per subscription instead of sending it (overload shedding, counted as\
             dropped). (env TICKERHUB_MAX_FANOUT_LAG_MS)
            """
    )
    var maxFanoutLagMs: Double?

    /// Reads this group's settings into `configuration`.
    func read(into configuration: inout HubConfiguration, from sources: inout SettingSources) throws {
        let defaults = HubConfiguration()
        configuration.engine.ringBytes = try sources.value(ringBytes, "ring-bytes", default: defaults.engine.ringBytes)
        configuration.maxBacklogBytes = try sources.value(
            maxBacklogBytes, "max-backlog-bytes", default: defaults.maxBacklogBytes)
        configuration.socketSendBufferBytes = try sources.value(
            socketSendBuffer, "socket-send-buffer", default: defaults.socketSendBufferBytes)
        configuration.slowClientTimeoutSeconds = try sources.value(
            slowClientTimeout, "slow-client-timeout", default: defaults.slowClientTimeoutSeconds)
        let maxDrainDelayMs = try sources.value(
            maxDrainDelayMs, "max-drain-delay-ms", default: defaults.engine.pacing.maxDelay.inMilliseconds)
        configuration.engine.pacing = DrainPacing(
            maxDelay: Duration(TimeAmount.saturating(seconds: maxDrainDelayMs / 1000)))
        let drainBudgetMs = try sources.value(
            drainBudgetMs, "drain-budget-ms", default: defaults.engine.drain.budget.milliseconds)
        configuration.engine.drain.budget = .saturating(seconds: drainBudgetMs / 1000)
        let maxFanoutLagMs = try sources.value(
            maxFanoutLagMs, "max-fanout-lag-ms", default: defaults.engine.drain.maxLag.milliseconds)
        configuration.engine.drain.maxLag = .saturating(seconds: maxFanoutLagMs / 1000)
    }

    /// This group's rules, which every configuration is held to (`HubConfiguration.validate`).
    static func check(_ configuration: HubConfiguration) throws(ConfigurationError) {
        let engine = configuration.engine
        try require(
            engine.ringBytes >= 64 * 1024 && engine.ringBytes.nonzeroBitCount == 1,
            "--ring-bytes must be a power of two, at least 65536")
        try require(
            (4096...(1 << 30)).contains(configuration.maxBacklogBytes), "--max-backlog-bytes must be 4096...1073741824")
        try require(
            configuration.socketSendBufferBytes == 0 || configuration.socketSendBufferBytes >= 4096,
            "--socket-send-buffer must be 0 or at least 4096")
        try require(
            configuration.slowClientTimeoutSeconds > 0 && configuration.slowClientTimeoutSeconds <= 86_400,
            "--slow-client-timeout must be in (0, 86400] seconds")
        try require(
            engine.pacing.maxDelay >= .zero && engine.pacing.maxDelay <= .seconds(1),
            "--max-drain-delay-ms must be 0...1000")
        try require(
            engine.drain.budget > .zero && engine.drain.budget <= .seconds(1), "--drain-budget-ms must be in (0, 1000]")
        try require(
            engine.drain.maxLag > .zero && engine.drain.maxLag <= .seconds(60),
            "--max-fanout-lag-ms must be in (0, 60000]")
    }

}
