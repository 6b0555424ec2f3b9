import FanoutEngine
import NIOCore

/// A setting out of its range, or settings that do not go together: the message names the flags,
/// since that is what the operator wrote (or its variable, or its file key, which are named after it).
struct ConfigurationError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension HubConfiguration {
    /// Checks every value against its range and the settings against each other. `tickerhub`
    /// checks what it read (`HubSettings`), and `Hub` checks what it is given, so a configuration
    /// built in a test or a tool is held to the same rules: a hub never starts on one it would refuse.
    func validate() throws(ConfigurationError) {
        try check(ports: [("port", port), ("admin-port", adminPort), ("echo-port", echoPort)])
        try require(eventLoops >= 1, "--event-loops must be at least 1")
        try require(
            publishNATS.isEmpty || feed == .sim,
            "--publish-nats goes with --feed sim: a hub publishes the market it simulates")
        try require(ticksPerSecond >= 0, "--rate must not be negative")
        if let burstPeriodSeconds {
            try require(
                burstPeriodSeconds > 0 && burstLengthSeconds > 0 && burstLengthSeconds <= burstPeriodSeconds,
                "--burst-for must be positive and fit in --burst-every")
        }
        try require(
            SubscriberOptions.isValidHeartbeat(heartbeatMilliseconds),
            """
            --heartbeat-ms must be 0 (none) or\
             \(SubscriberOptions.minimumHeartbeatMilliseconds)...\(SubscriberOptions.maximumHeartbeatMilliseconds)
            """
        )
        try require(pingIntervalSeconds >= 1, "--ping-interval must be at least 1 second")
        try require((0...1_000_000).contains(engine.historyDepth), "--history must be 0...1000000 updates per symbol")
        try require(maxReplayPerRequest >= 0, "--max-replay must not be negative")
        try require(maxSymbolsPerConnection >= 1, "--max-symbols must be at least 1")
        try validateLimits()
        try validateEngine()
        try validateSecurity()
    }

    private func validateLimits() throws(ConfigurationError) {
        let limits = connectionLimits
        try require(
            limits.maxConnections >= 1 && limits.maxConnectionsPerIP >= 1 && limits.handshakesPerSecondPerIP > 0
                && limits.handshakeBurst >= 1,
            """
            --max-connections, --max-connections-per-ip, --handshakes-per-second-per-ip and --handshake-burst\
             must be positive
            """
        )
        try require(
            requestTimeout > .zero && requestTimeout <= .seconds(3600), "--request-timeout must be in (0, 3600] seconds"
        )
        try require((1024...80 * 1024).contains(maxHeaderBytes), "--max-header-bytes must be 1024...81920")
        try require(
            maxRequestsPerSecond > 0 && requestBurst >= 1,
            "--max-requests-per-second must be positive and --request-burst at least 1")
        try require(ingest.maxNewSymbolsPerPublisher >= 1, "--max-new-symbols-per-publisher must be positive")
    }

    private func validateEngine() throws(ConfigurationError) {
        try require(
            engine.ringBytes >= 64 * 1024 && engine.ringBytes.nonzeroBitCount == 1,
            "--ring-bytes must be a power of two, at least 65536")
        try require((4096...(1 << 30)).contains(maxBacklogBytes), "--max-backlog-bytes must be 4096...1073741824")
        try require(
            socketSendBufferBytes == 0 || socketSendBufferBytes >= 4096,
            "--socket-send-buffer must be 0 or at least 4096")
        try require(
            slowClientTimeoutSeconds > 0 && slowClientTimeoutSeconds <= 86_400,
            "--slow-client-timeout must be in (0, 86400] seconds")
        try require(
            engine.pacing.maxDelay >= .zero && engine.pacing.maxDelay <= .seconds(1),
            "--max-drain-delay-ms must be 0...1000")
        try require(
            engine.drain.budget > .zero && engine.drain.budget <= .seconds(1), "--drain-budget-ms must be in (0, 1000]")
        try require(
            engine.drain.maxLag > .zero && engine.drain.maxLag <= .seconds(60),
            "--max-fanout-lag-ms must be in (0, 60000]")
        try require(engine.deflateThresholdBytes >= 0, "--deflate-threshold must not be negative")
    }

    private func validateSecurity() throws(ConfigurationError) {
        for origin in origins.allowed where !OriginPolicy.isValid(origin) {
            throw ConfigurationError(
                "--allowed-origin must look like https://example.com or http://host:port, not \(origin)")
        }
        // /ingest is served where the admin endpoints are: the admin listener if there is one.
        let ingestHost = adminPort == nil ? host : adminHost
        try require(
            feed != .ingest || IngestCredential.isLoopback(ingestHost) || ingest.credential != nil || auth != nil,
            """
            --feed ingest on \(ingestHost) (beyond loopback) needs --ingest-token or auth (tokens with a publish\
             claim): anyone who reaches the port could publish prices
            """
        )
        // The owned transport serves plain TCP only, and the NATS client is a NIO channel on the
        // publisher's loop, which would be an owned loop. Asked for by name, it fails closed
        // (`--transport auto` takes NIO for these).
        if transport == .owned,
            let reason = tls != nil
                ? "TLS (--tls-cert)" : feed == .nats || !publishNATS.isEmpty ? "--feed nats or --publish-nats" : nil
        {
            throw ConfigurationError("--transport owned does not serve \(reason) yet; use --transport nio or auto")
        }
    }

    private func check(ports: [(flag: String, port: Int?)]) throws(ConfigurationError) {
        for (flag, port) in ports {
            if let port { try require((0...65535).contains(port), "--\(flag) must be 0...65535") }
        }
    }

    private func require(_ condition: Bool, _ message: @autoclosure () -> String) throws(ConfigurationError) {
        if !condition { throw ConfigurationError(message()) }
    }
}

extension TimeAmount {
    /// `seconds` as a time amount, saturating at the ends of its range (NaN: the lowest), so that a
    /// setting read as a number of seconds is checked by `validate`, never trapped on converting.
    static func saturating(seconds: Double) -> TimeAmount {
        let nanoseconds = seconds * 1e9
        guard nanoseconds > -9.2e18 else { return .nanoseconds(.min) }  // and NaN
        guard nanoseconds < 9.2e18 else { return .nanoseconds(.max) }
        return .nanoseconds(Int64(nanoseconds))
    }
}
