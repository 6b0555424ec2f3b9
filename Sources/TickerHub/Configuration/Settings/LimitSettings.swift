import ArgumentParser
import NIOCore

/// The limits at the door and per connection: connections in total and per client, handshakes,
/// request heads and their time, requests per second, and new symbols per publisher.
struct LimitSettings: ParsableArguments {
    @Option(
        help:
            """
            WebSocket connections the hub holds in total; past it a handshake gets 503. (env\
             TICKERHUB_MAX_CONNECTIONS)
            """
    )
    var maxConnections: Int?

    @Option(
        help:
            """
            WebSocket connections from one IP address; past it a handshake gets 429. (env\
             TICKERHUB_MAX_CONNECTIONS_PER_IP)
            """
    )
    var maxConnectionsPerIp: Int?

    @Option(
        help:
            """
            WebSocket handshakes one IP address may start per second, sustained; past it and past\
             --handshake-burst, 429. (env TICKERHUB_HANDSHAKES_PER_SECOND_PER_IP)
            """
    )
    var handshakesPerSecondPerIp: Double?

    @Option(help: "WebSocket handshakes one IP address may start at once. (env TICKERHUB_HANDSHAKE_BURST)")
    var handshakeBurst: Int?

    @Option(
        help:
            """
            Seconds a connection may take to finish an HTTP request or WebSocket handshake (from its start, or\
             the end of its previous request); then it is closed. (env TICKERHUB_REQUEST_TIMEOUT)
            """
    )
    var requestTimeout: Double?

    @Option(
        help:
            """
            Largest request head (request line and headers) in bytes; a bigger one is answered 431. NIO's parser\
             refuses past 80 KiB whatever this says. (env TICKERHUB_MAX_HEADER_BYTES)
            """
    )
    var maxHeaderBytes: Int?

    @Option(
        help:
            """
            Requests one subscriber connection may send per second, sustained; past it and past --request-burst,\
             the connection is closed with 1008. (env TICKERHUB_MAX_REQUESTS_PER_SECOND)
            """
    )
    var maxRequestsPerSecond: Double?

    @Option(
        help: "Requests one subscriber connection may send at once after a quiet spell. (env TICKERHUB_REQUEST_BURST)")
    var requestBurst: Int?

    @Option(
        help:
            """
            New symbols one publisher connection may add; past it the publisher is closed with 1008. (env\
             TICKERHUB_MAX_NEW_SYMBOLS_PER_PUBLISHER)
            """
    )
    var maxNewSymbolsPerPublisher: Int?

    /// Reads this group's settings into `configuration`.
    func read(into configuration: inout HubConfiguration, from sources: inout SettingSources) throws {
        let defaults = HubConfiguration()
        let limitDefaults = ConnectionLimits.Configuration()
        configuration.connectionLimits = ConnectionLimits.Configuration(
            maxConnections: try sources.value(maxConnections, "max-connections", default: limitDefaults.maxConnections),
            maxConnectionsPerIP: try sources.value(
                maxConnectionsPerIp, "max-connections-per-ip", default: limitDefaults.maxConnectionsPerIP),
            handshakesPerSecondPerIP: try sources.value(
                handshakesPerSecondPerIp, "handshakes-per-second-per-ip",
                default: limitDefaults.handshakesPerSecondPerIP),
            handshakeBurst: try sources.value(handshakeBurst, "handshake-burst", default: limitDefaults.handshakeBurst))
        configuration.requestTimeout = .saturating(
            seconds: try sources.value(
                requestTimeout, "request-timeout", default: defaults.requestTimeout.milliseconds / 1000))
        configuration.maxHeaderBytes = try sources.value(
            maxHeaderBytes, "max-header-bytes", default: defaults.maxHeaderBytes)
        configuration.maxRequestsPerSecond = try sources.value(
            maxRequestsPerSecond, "max-requests-per-second", default: defaults.maxRequestsPerSecond)
        configuration.requestBurst = try sources.value(requestBurst, "request-burst", default: defaults.requestBurst)
        configuration.ingest.maxNewSymbolsPerPublisher = try sources.value(
            maxNewSymbolsPerPublisher, "max-new-symbols-per-publisher",
            default: defaults.ingest.maxNewSymbolsPerPublisher)
    }

    /// This group's rules, which every configuration is held to (`HubConfiguration.validate`).
    static func check(_ configuration: HubConfiguration) throws(ConfigurationError) {
        let limits = configuration.connectionLimits
        try require(
            limits.maxConnections >= 1 && limits.maxConnectionsPerIP >= 1 && limits.handshakesPerSecondPerIP > 0
                && limits.handshakeBurst >= 1,
            "--max-connections, --max-connections-per-ip, --handshakes-per-second-per-ip and --handshake-burst"
                + " must be positive")
        try require(
            configuration.requestTimeout > .zero && configuration.requestTimeout <= .seconds(3600),
            "--request-timeout must be in (0, 3600] seconds")
        try require(
            (1024...80 * 1024).contains(configuration.maxHeaderBytes), "--max-header-bytes must be 1024...81920")
        try require(
            configuration.maxRequestsPerSecond > 0 && configuration.requestBurst >= 1,
            "--max-requests-per-second must be positive and --request-burst at least 1")
        try require(
            configuration.ingest.maxNewSymbolsPerPublisher >= 1, "--max-new-symbols-per-publisher must be positive")
    }

}
