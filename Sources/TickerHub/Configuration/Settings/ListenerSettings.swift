import ArgumentParser
import Logging

/// Where and how the hub listens: addresses and ports, its threads, TLS, what carries subscribers
/// after their handshake, and its log level.
struct ListenerSettings: ParsableArguments {
    @Option(help: "Address to listen on. (env TICKERHUB_HOST)")
    var host: String?

    @Option(help: "Port to listen on; 0 picks a free one. (env TICKERHUB_PORT)")
    var port: Int?

    @Option(
        help:
            """
            Move /metrics, /stats, /ops and /ingest to a listener of their own on this port; the public one then\
             serves market data only. (env TICKERHUB_ADMIN_PORT)
            """
    )
    var adminPort: Int?

    @Option(help: "Address of the admin listener. (env TICKERHUB_ADMIN_HOST)")
    var adminHost: String?

    @Option(
        help:
            """
            Also listen on this port with a WebSocket echo server, for conformance tests (Autobahn). (env\
             TICKERHUB_ECHO_PORT)
            """
    )
    var echoPort: Int?

    @Option(
        help:
            """
            Socket event loops (threads); the first also publishes. One unless the hub has cores to itself (see\
             Benchmarks/ANALYSIS.md). (env TICKERHUB_EVENT_LOOPS)
            """
    )
    var eventLoops: Int?

    @Option(
        help:
            """
            What carries subscribers after the handshake: owned (the hub's own epoll loops; not with TLS or\
             NATS), nio (a NIO channel each), or auto (owned where it can, else nio). (env TICKERHUB_TRANSPORT)
            """
    )
    var transport: String?

    @Option(
        help:
            "Serve TLS (wss://, https://) with this certificate chain (PEM); needs --tls-key. (env TICKERHUB_TLS_CERT)")
    var tlsCert: String?

    @Option(help: "The private key (PEM) of --tls-cert. (env TICKERHUB_TLS_KEY)")
    var tlsKey: String?

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical. (env TICKERHUB_LOG_LEVEL)")
    var logLevel: String?

    /// Reads this group's settings into `configuration`.
    func read(into configuration: inout HubConfiguration, from sources: inout SettingSources) throws {
        let defaults = HubConfiguration()
        configuration.host = try sources.value(host, "host", default: defaults.host)
        configuration.port = try sources.value(port, "port", default: defaults.port)
        configuration.adminPort = try sources.optional(adminPort, "admin-port")
        configuration.adminHost = try sources.value(adminHost, "admin-host", default: defaults.adminHost)
        configuration.echoPort = try sources.optional(echoPort, "echo-port")
        configuration.eventLoops = try sources.value(eventLoops, "event-loops", default: defaults.eventLoops)
        let tlsCert = try sources.optional(tlsCert, "tls-cert")
        let tlsKey = try sources.optional(tlsKey, "tls-key")
        if (tlsCert == nil) != (tlsKey == nil) { throw ValidationError("--tls-cert and --tls-key go together") }
        let transportName = try sources.value(transport, "transport", default: "auto")
        guard transportName == "auto" || SubscriberTransport(rawValue: transportName) != nil else {
            throw ValidationError("--transport must be auto, owned or nio")
        }
        // `auto`: owned where it serves (the feed is read first), else NIO. Owned asked for by name
        // where it cannot serve is refused before the TLS files are read: the reason is the transport.
        let unserved = Self.unservedByOwnedTransport(
            tls: tlsCert != nil, feed: configuration.feed, publishesToNATS: !configuration.publishNATS.isEmpty)
        if transportName == "owned", let unserved { throw ValidationError(Self.ownedRefusal(unserved)) }
        configuration.transport = transportName == "nio" || (transportName == "auto" && unserved != nil) ? .nio : .owned
        if let tlsCert, let tlsKey {
            do {
                configuration.tls = try TLSFiles(certificatePath: tlsCert, privateKeyPath: tlsKey)
            } catch {
                throw ValidationError("cannot use --tls-cert \(tlsCert) and --tls-key \(tlsKey): \(error)")
            }
        }
        // The hub's own pages are https:// behind TLS: a same-origin page must say so.
        configuration.origins.listenerScheme = configuration.tls == nil ? "http" : "https"
        let level = try sources.value(logLevel, "log-level", default: defaults.logLevel.rawValue)
        guard let logLevel = Logger.Level(rawValue: level) else {
            throw ValidationError("unknown --log-level \(level)")
        }
        configuration.logLevel = logLevel
    }

    /// This group's rules, which every configuration is held to (`HubConfiguration.validate`).
    static func check(_ configuration: HubConfiguration) throws(ConfigurationError) {
        for (flag, port) in [
            ("port", configuration.port), ("admin-port", configuration.adminPort),
            ("echo-port", configuration.echoPort),
        ] {
            if let port { try require((0...65535).contains(port), "--\(flag) must be 0...65535") }
        }
        try require(configuration.eventLoops >= 1, "--event-loops must be at least 1")
        let unserved = unservedByOwnedTransport(
            tls: configuration.tls != nil, feed: configuration.feed, publishesToNATS: !configuration.publishNATS.isEmpty
        )
        if configuration.transport == .owned, let unserved { throw ConfigurationError(ownedRefusal(unserved)) }
    }

    /// What the owned transport cannot serve among these, if anything. It serves plain TCP only, and
    /// the NATS client is a NIO channel on the publisher's loop, which would be an owned loop.
    private static func unservedByOwnedTransport(
        tls: Bool, feed: HubConfiguration.FeedMode, publishesToNATS: Bool
    ) -> String? {
        if tls { return "TLS (--tls-cert)" }
        return feed == .nats || publishesToNATS ? "--feed nats or --publish-nats" : nil
    }

    private static func ownedRefusal(_ unserved: String) -> String {
        "--transport owned does not serve \(unserved) yet; use --transport nio or auto"
    }
}
