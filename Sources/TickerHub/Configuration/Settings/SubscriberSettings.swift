import ArgumentParser

/// What every subscriber connection gets: heartbeats and pings, recovery history, how many symbols
/// it may follow, and compression.
struct SubscriberSettings: ParsableArguments {
    @Option(
        help:
            """
            Idle time after which a heartbeat message is sent, in milliseconds, for connections that do not\
             choose (/ws?heartbeat=MS); 0 for none. (env TICKERHUB_HEARTBEAT_MS)
            """
    )
    var heartbeatMs: Int?

    @Option(
        help:
            """
            Seconds without inbound traffic before a connection is pinged; unanswered for as long again, it is\
             closed. (env TICKERHUB_PING_INTERVAL)
            """
    )
    var pingInterval: Int?

    @Option(
        help:
            """
            Updates kept per symbol so that a reconnecting client can recover what it missed (subscribe with\
             \"since\"); 0 keeps none. Memory: 80 bytes per update kept, times the symbols. (env\
             TICKERHUB_HISTORY)
            """
    )
    var history: Int?

    @Option(
        help:
            """
            Most updates one subscribe may replay in recovery; symbols past it get snapshots instead. (env\
             TICKERHUB_MAX_REPLAY)
            """
    )
    var maxReplay: Int?

    @Option(help: "Most symbols one connection may subscribe to. (env TICKERHUB_MAX_SYMBOLS)")
    var maxSymbols: Int?

    @Option(
        help:
            """
            permessage-deflate: off, shared (compress each message once for all), dedicated (a compressor per\
             connection). (env TICKERHUB_DEFLATE)
            """
    )
    var deflate: String?

    @Option(help: "Messages with a smaller payload, in bytes, are sent uncompressed. (env TICKERHUB_DEFLATE_THRESHOLD)")
    var deflateThreshold: Int?

    @Option(
        help: "Offer the tickerhub.v1.zstd subprotocol (zstd with a shared dictionary): on or off. (env TICKERHUB_ZSTD)"
    )
    var zstd: String?

    /// Reads this group's settings into `configuration`.
    func read(into configuration: inout HubConfiguration, from sources: inout SettingSources) throws {
        let defaults = HubConfiguration()
        configuration.heartbeatMilliseconds = try sources.value(
            heartbeatMs, "heartbeat-ms", default: defaults.heartbeatMilliseconds)
        configuration.pingIntervalSeconds = try sources.value(
            pingInterval, "ping-interval", default: defaults.pingIntervalSeconds)
        configuration.engine.historyDepth = try sources.value(history, "history", default: defaults.engine.historyDepth)
        configuration.maxReplayPerRequest = try sources.value(
            maxReplay, "max-replay", default: defaults.maxReplayPerRequest)
        configuration.maxSymbolsPerConnection = try sources.value(
            maxSymbols, "max-symbols", default: defaults.maxSymbolsPerConnection)
        let deflateName = try sources.value(deflate, "deflate", default: defaults.deflate.rawValue)
        guard let deflateMode = PerMessageDeflateNegotiation.Mode(rawValue: deflateName) else {
            throw ValidationError("--deflate must be off, shared or dedicated")
        }
        configuration.deflate = deflateMode
        configuration.engine.deflateThresholdBytes = try sources.value(
            deflateThreshold, "deflate-threshold", default: defaults.engine.deflateThresholdBytes)
        let zstdSetting = try sources.value(zstd, "zstd", default: "on")
        guard zstdSetting == "on" || zstdSetting == "off" else { throw ValidationError("--zstd must be on or off") }
        configuration.zstd = zstdSetting == "on"
    }

    /// This group's rules, which every configuration is held to (`HubConfiguration.validate`).
    static func check(_ configuration: HubConfiguration) throws(ConfigurationError) {
        try require(
            SubscriberOptions.isValidHeartbeat(configuration.heartbeatMilliseconds),
            "--heartbeat-ms must be 0 (none) or \(SubscriberOptions.minimumHeartbeatMilliseconds)..."
                + "\(SubscriberOptions.maximumHeartbeatMilliseconds)")
        try require(configuration.pingIntervalSeconds >= 1, "--ping-interval must be at least 1 second")
        try require(
            (0...1_000_000).contains(configuration.engine.historyDepth),
            "--history must be 0...1000000 updates per symbol")
        try require(configuration.maxReplayPerRequest >= 0, "--max-replay must not be negative")
        try require(configuration.maxSymbolsPerConnection >= 1, "--max-symbols must be at least 1")
        try require(configuration.engine.deflateThresholdBytes >= 0, "--deflate-threshold must not be negative")
    }

}
