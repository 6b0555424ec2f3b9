import ArgumentParser
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import FanoutEngine
import CMalloc
import FeedModel
import NATSClient
import Logging
import NIOCore
import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#endif

/// `tickerhub`: the command line. Every flag also reads an environment variable, named in its help.
@main
struct TickerHubCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tickerhub",
        abstract: "Live market-data broadcast hub: ticks in, WebSocket fan-out to thousands of subscribers.",
        discussion: """
            Starts with an embedded simulated market by default. Connect to ws://HOST:PORT/ws; see docs/PROTOCOL.md.

            Every setting can also come from the environment (named after each option below) or from a config file \
            (--config, YAML or JSON, keys named as the options: deploy/tickerhub.yaml). A flag overrides the \
            environment, which overrides the file. --print-config shows every effective value and where it came from.
            """
    )

    @Option(help: "A config file (YAML, or JSON if it ends in .json) with any of these settings, keyed by option name. (env TICKERHUB_CONFIG)")
    var config: String?

    @Flag(help: "Print the effective configuration (YAML: each value and where it came from) and exit.")
    var printConfig = false

    @Option(help: "Address to listen on. (env TICKERHUB_HOST)")
    var host: String?

    @Option(help: "Port to listen on; 0 picks a free one. (env TICKERHUB_PORT)")
    var port: Int?

    @Option(help: "Feed source: sim (embedded simulator), ingest (publishers on /ingest), or NATS server URLs, comma-separated (nats://127.0.0.1:4222,nats://127.0.0.1:4223): ticks from subjects ticks.<SYMBOL>. (env TICKERHUB_FEED)")
    var feed: String?

    @Option(help: "Also publish this hub's ticks to NATS (comma-separated server URLs), so it feeds hubs started with --feed nats://...; with --feed sim. (env TICKERHUB_PUBLISH_NATS)")
    var publishNats: String?

    @Option(help: "The token the NATS servers require (nats-server --auth), for --feed nats:// and --publish-nats. Prefer the environment variable: arguments show in ps. (env TICKERHUB_NATS_TOKEN)")
    var natsToken: String?

    @Option(help: "Simulated symbols: a count of the default universe, or a comma-separated list. (env TICKERHUB_SYMBOLS)")
    var symbols: String?

    @Option(help: "Simulated ticks per second, over all symbols. (env TICKERHUB_RATE)")
    var rate: Double?

    @Option(help: "Seed of the simulated market. (env TICKERHUB_SEED)")
    var seed: UInt64?

    @Option(help: "Run the simulator at 10x rate for --burst-for seconds every this many seconds; 0 is off. (env TICKERHUB_BURST_EVERY)")
    var burstEvery: Double?

    @Option(help: "Length of each burst, in seconds. (env TICKERHUB_BURST_FOR)")
    var burstFor: Double?

    @Option(help: "Socket event loops (threads); the first also publishes. One unless the hub has cores to itself (see Benchmarks/ANALYSIS.md). (env TICKERHUB_EVENT_LOOPS)")
    var eventLoops: Int?

    @Option(help: "Idle time after which a heartbeat message is sent, in milliseconds, for connections that do not choose (/ws?heartbeat=MS); 0 for none. (env TICKERHUB_HEARTBEAT_MS)")
    var heartbeatMs: Int?

    @Option(help: "Seconds without inbound traffic before a connection is pinged; unanswered for as long again, it is closed. (env TICKERHUB_PING_INTERVAL)")
    var pingInterval: Int?

    @Option(help: "Updates kept per symbol so that a reconnecting client can recover what it missed (subscribe with \"since\"); 0 keeps none. Memory: 80 bytes per update kept, times the symbols. (env TICKERHUB_HISTORY)")
    var history: Int?

    @Option(help: "Most updates one subscribe may replay in recovery; symbols past it get snapshots instead. (env TICKERHUB_MAX_REPLAY)")
    var maxReplay: Int?

    @Option(help: "Most symbols one connection may subscribe to. (env TICKERHUB_MAX_SYMBOLS)")
    var maxSymbols: Int?

    @Option(help: "WebSocket connections the hub holds in total; past it a handshake gets 503. (env TICKERHUB_MAX_CONNECTIONS)")
    var maxConnections: Int?

    @Option(help: "WebSocket connections from one IP address; past it a handshake gets 429. (env TICKERHUB_MAX_CONNECTIONS_PER_IP)")
    var maxConnectionsPerIp: Int?

    @Option(help: "WebSocket handshakes one IP address may start per second, sustained; past it and past --handshake-burst, 429. (env TICKERHUB_HANDSHAKES_PER_SECOND_PER_IP)")
    var handshakesPerSecondPerIp: Double?

    @Option(help: "WebSocket handshakes one IP address may start at once. (env TICKERHUB_HANDSHAKE_BURST)")
    var handshakeBurst: Int?

    @Option(help: "Seconds a connection may take to finish an HTTP request or WebSocket handshake (from its start, or the end of its previous request); then it is closed. (env TICKERHUB_REQUEST_TIMEOUT)")
    var requestTimeout: Double?

    @Option(help: "Largest request head (request line and headers) in bytes; a bigger one is answered 431. NIO's parser refuses past 80 KiB whatever this says. (env TICKERHUB_MAX_HEADER_BYTES)")
    var maxHeaderBytes: Int?

    @Option(help: "Requests one subscriber connection may send per second, sustained; past it and past --request-burst, the connection is closed with 1008. (env TICKERHUB_MAX_REQUESTS_PER_SECOND)")
    var maxRequestsPerSecond: Double?

    @Option(help: "Requests one subscriber connection may send at once after a quiet spell. (env TICKERHUB_REQUEST_BURST)")
    var requestBurst: Int?

    @Option(help: "Broadcast ring size in bytes, a power of two. (env TICKERHUB_RING_BYTES)")
    var ringBytes: Int?

    @Option(help: "Most bytes the hub queues for one connection; past it, updates are conflated to the latest value per symbol. (env TICKERHUB_MAX_BACKLOG_BYTES)")
    var maxBacklogBytes: Int?

    @Option(help: "Kernel send buffer per connection (SO_SNDBUF) in bytes; 0 keeps the OS's auto-tuning. (env TICKERHUB_SOCKET_SEND_BUFFER)")
    var socketSendBuffer: Int?

    @Option(help: "Seconds a connection's backlog may stay full before it is closed with 4008 \"slow consumer\". (env TICKERHUB_SLOW_CLIENT_TIMEOUT)")
    var slowClientTimeout: Double?

    @Option(help: "Longest a loop may defer fan-out after new ticks, in milliseconds, so more of them share each socket write; it adapts to load (the previous fan-out's duration, up to this). 0 fans out at once. (env TICKERHUB_MAX_DRAIN_DELAY_MS)")
    var maxDrainDelayMs: Double?

    @Option(help: "Longest one fan-out drain holds its event loop before the loop serves its sockets again, in milliseconds. (env TICKERHUB_DRAIN_BUDGET_MS)")
    var drainBudgetMs: Double?

    @Option(help: "A loop that reaches a tick later than this after it was published, in milliseconds, conflates its backlog to the latest value per subscription instead of sending it (overload shedding, counted as dropped). (env TICKERHUB_MAX_FANOUT_LAG_MS)")
    var maxFanoutLagMs: Double?

    @Option(help: "What carries subscribers after the handshake: owned (the hub's own epoll loops; not with TLS or NATS), nio (a NIO channel each), or auto (owned where it can, else nio). (env TICKERHUB_TRANSPORT)")
    var transport: String?

    @Option(help: "permessage-deflate: off, shared (compress each message once for all), dedicated (a compressor per connection). (env TICKERHUB_DEFLATE)")
    var deflate: String?

    @Option(help: "Messages with a smaller payload, in bytes, are sent uncompressed. (env TICKERHUB_DEFLATE_THRESHOLD)")
    var deflateThreshold: Int?

    @Option(help: "Offer the tickerhub.v1.zstd subprotocol (zstd with a shared dictionary): on or off. (env TICKERHUB_ZSTD)")
    var zstd: String?

    @Option(help: "The token a publisher must present to open /ingest (Authorization: Bearer, or ?token=). Required with --feed ingest when --host is not a loopback address. (env TICKERHUB_INGEST_TOKEN)")
    var ingestToken: String?

    @Option(help: "Turn auth on with this HMAC secret (HS256, at least 32 bytes): every WebSocket then needs an access token (a JWT). Prefer the environment variable: arguments show in ps. (env TICKERHUB_AUTH_SECRET)")
    var authSecret: String?

    @Option(help: "Turn auth on with this public key (a PEM file; RSA for RS256, P-256 for ES256): every WebSocket then needs an access token (a JWT) signed by its private key. (env TICKERHUB_AUTH_PUBLIC_KEY)")
    var authPublicKey: String?

    @Option(help: "Serve TLS (wss://, https://) with this certificate chain (PEM); needs --tls-key. (env TICKERHUB_TLS_CERT)")
    var tlsCert: String?

    @Option(help: "The private key (PEM) of --tls-cert. (env TICKERHUB_TLS_KEY)")
    var tlsKey: String?

    @Option(help: "New symbols one publisher connection may add; past it the publisher is closed with 1008. (env TICKERHUB_MAX_NEW_SYMBOLS_PER_PUBLISHER)")
    var maxNewSymbolsPerPublisher: Int?

    @Option(help: "A web page origin (scheme://host[:port]) allowed to open /ws and /ingest; repeat for several. Handshakes from other origins get 403; without any, every origin is allowed. (env TICKERHUB_ALLOWED_ORIGIN, comma-separated)")
    var allowedOrigin: [String] = []

    @Option(help: "With auth on, a token's \"aud\" claim must name this audience. (env TICKERHUB_AUTH_AUDIENCE)")
    var authAudience: String?

    @Option(help: "With auth on, a token's \"iss\" claim must be this issuer. (env TICKERHUB_AUTH_ISSUER)")
    var authIssuer: String?

    @Option(help: "A load balancer in front of the hub (an address or a CIDR prefix); repeat for several. Connections from it are counted for the client its X-Forwarded-For names. (env TICKERHUB_TRUSTED_PROXY, comma-separated)")
    var trustedProxy: [String] = []

    @Option(help: "Move /metrics, /stats, /ops and /ingest to a listener of their own on this port; the public one then serves market data only. (env TICKERHUB_ADMIN_PORT)")
    var adminPort: Int?

    @Option(help: "Address of the admin listener. (env TICKERHUB_ADMIN_HOST)")
    var adminHost: String?

    @Option(help: "Also listen on this port with a WebSocket echo server, for conformance tests (Autobahn). (env TICKERHUB_ECHO_PORT)")
    var echoPort: Int?

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical. (env TICKERHUB_LOG_LEVEL)")
    var logLevel: String?

    /// Resolves every setting (flag, environment, file, default: `SettingSources`), checks it, and
    /// builds the hub's configuration.
    func makeConfiguration(from sources: inout SettingSources) throws -> HubConfiguration {
        var configuration = HubConfiguration()
        let defaults = HubConfiguration()
        let limitDefaults = ConnectionLimits.Configuration()

        // Listening
        configuration.host = try sources.value(host, "host", default: defaults.host)
        configuration.port = try sources.value(port, "port", default: defaults.port)
        guard (0...65535).contains(configuration.port) else { throw ValidationError("--port must be 0...65535") }
        configuration.adminPort = try sources.optional(adminPort, "admin-port")
        if let adminPort = configuration.adminPort, !(0...65535).contains(adminPort) { throw ValidationError("--admin-port must be 0...65535") }
        configuration.adminHost = try sources.value(adminHost, "admin-host", default: defaults.adminHost)
        configuration.echoPort = try sources.optional(echoPort, "echo-port")
        if let echoPort = configuration.echoPort, !(0...65535).contains(echoPort) { throw ValidationError("--echo-port must be 0...65535") }
        let eventLoops = try sources.value(eventLoops, "event-loops", default: defaults.eventLoops)
        guard eventLoops >= 1 else { throw ValidationError("--event-loops must be at least 1") }
        configuration.eventLoops = eventLoops

        // The feed
        let feedName = try sources.value(feed, "feed", default: defaults.feed.rawValue)
        if feedName.hasPrefix("nats://") {
            configuration.feed = .nats
            configuration.natsServers = try natsServers(feedName, flag: "--feed")
        } else {
            guard let feedMode = HubConfiguration.FeedMode(rawValue: feedName), feedMode != .nats else {
                throw ValidationError("--feed must be sim, ingest or nats://host:port[,nats://...]")
            }
            configuration.feed = feedMode
        }
        if let publishTo = try sources.optional(publishNats, "publish-nats") {
            guard configuration.feed == .sim else { throw ValidationError("--publish-nats goes with --feed sim: a hub publishes the market it simulates") }
            configuration.publishNATS = try natsServers(publishTo, flag: "--publish-nats")
        }
        configuration.natsToken = try sources.optional(natsToken, "nats-token", secret: true)
        configuration.symbols = try parsedSymbols(try sources.value(symbols, "symbols", default: "500"))
        configuration.ticksPerSecond = try sources.value(rate, "rate", default: defaults.ticksPerSecond)
        guard configuration.ticksPerSecond >= 0 else { throw ValidationError("--rate must not be negative") }
        configuration.seed = try sources.value(seed, "seed", default: defaults.seed)
        let burstEvery = try sources.value(burstEvery, "burst-every", default: 0.0)
        let burstFor = try sources.value(burstFor, "burst-for", default: defaults.burstLengthSeconds)
        if burstEvery < 0 || (burstEvery > 0 && (burstFor <= 0 || burstFor > burstEvery)) {
            throw ValidationError("--burst-for must be positive and fit in --burst-every")
        }
        configuration.burstPeriodSeconds = burstEvery > 0 ? burstEvery : nil
        configuration.burstLengthSeconds = burstFor

        // Subscribers
        configuration.heartbeatMilliseconds = try sources.value(heartbeatMs, "heartbeat-ms", default: defaults.heartbeatMilliseconds)
        guard SubscriberOptions.isValidHeartbeat(configuration.heartbeatMilliseconds) else {
            throw ValidationError("--heartbeat-ms must be 0 (none) or \(SubscriberOptions.minimumHeartbeatMilliseconds)...\(SubscriberOptions.maximumHeartbeatMilliseconds)")
        }
        configuration.pingIntervalSeconds = try sources.value(pingInterval, "ping-interval", default: defaults.pingIntervalSeconds)
        guard configuration.pingIntervalSeconds >= 1 else { throw ValidationError("--ping-interval must be at least 1 second") }
        configuration.engine.historyDepth = try sources.value(history, "history", default: defaults.engine.historyDepth)
        guard (0...1_000_000).contains(configuration.engine.historyDepth) else { throw ValidationError("--history must be 0...1000000 updates per symbol") }
        configuration.maxReplayPerRequest = try sources.value(maxReplay, "max-replay", default: defaults.maxReplayPerRequest)
        guard configuration.maxReplayPerRequest >= 0 else { throw ValidationError("--max-replay must not be negative") }
        configuration.maxSymbolsPerConnection = try sources.value(maxSymbols, "max-symbols", default: defaults.maxSymbolsPerConnection)
        guard configuration.maxSymbolsPerConnection >= 1 else { throw ValidationError("--max-symbols must be at least 1") }

        // Limits
        configuration.connectionLimits = ConnectionLimits.Configuration(
            maxConnections: try sources.value(maxConnections, "max-connections", default: limitDefaults.maxConnections),
            maxConnectionsPerIP: try sources.value(maxConnectionsPerIp, "max-connections-per-ip", default: limitDefaults.maxConnectionsPerIP),
            handshakesPerSecondPerIP: try sources.value(handshakesPerSecondPerIp, "handshakes-per-second-per-ip", default: limitDefaults.handshakesPerSecondPerIP),
            handshakeBurst: try sources.value(handshakeBurst, "handshake-burst", default: limitDefaults.handshakeBurst))
        let limits = configuration.connectionLimits
        guard limits.maxConnections >= 1, limits.maxConnectionsPerIP >= 1, limits.handshakesPerSecondPerIP > 0, limits.handshakeBurst >= 1 else {
            throw ValidationError("--max-connections, --max-connections-per-ip, --handshakes-per-second-per-ip and --handshake-burst must be positive")
        }
        let requestTimeout = try sources.value(requestTimeout, "request-timeout", default: defaults.requestTimeout.milliseconds / 1000)
        guard requestTimeout > 0, requestTimeout <= 3600 else { throw ValidationError("--request-timeout must be in (0, 3600] seconds") }
        configuration.requestTimeout = .nanoseconds(Int64(requestTimeout * 1e9))
        configuration.maxHeaderBytes = try sources.value(maxHeaderBytes, "max-header-bytes", default: defaults.maxHeaderBytes)
        guard (1024...80 * 1024).contains(configuration.maxHeaderBytes) else { throw ValidationError("--max-header-bytes must be 1024...81920") }
        configuration.maxRequestsPerSecond = try sources.value(maxRequestsPerSecond, "max-requests-per-second", default: defaults.maxRequestsPerSecond)
        configuration.requestBurst = try sources.value(requestBurst, "request-burst", default: defaults.requestBurst)
        guard configuration.maxRequestsPerSecond > 0, configuration.requestBurst >= 1 else {
            throw ValidationError("--max-requests-per-second must be positive and --request-burst at least 1")
        }

        // The engine and slow clients
        configuration.engine.ringBytes = try sources.value(ringBytes, "ring-bytes", default: defaults.engine.ringBytes)
        guard configuration.engine.ringBytes >= 64 * 1024, configuration.engine.ringBytes.nonzeroBitCount == 1 else {
            throw ValidationError("--ring-bytes must be a power of two, at least 65536")
        }
        configuration.maxBacklogBytes = try sources.value(maxBacklogBytes, "max-backlog-bytes", default: defaults.maxBacklogBytes)
        guard (4096...(1 << 30)).contains(configuration.maxBacklogBytes) else { throw ValidationError("--max-backlog-bytes must be 4096...1073741824") }
        configuration.socketSendBufferBytes = try sources.value(socketSendBuffer, "socket-send-buffer", default: defaults.socketSendBufferBytes)
        guard configuration.socketSendBufferBytes == 0 || configuration.socketSendBufferBytes >= 4096 else {
            throw ValidationError("--socket-send-buffer must be 0 or at least 4096")
        }
        configuration.slowClientTimeoutSeconds = try sources.value(slowClientTimeout, "slow-client-timeout", default: defaults.slowClientTimeoutSeconds)
        guard configuration.slowClientTimeoutSeconds > 0, configuration.slowClientTimeoutSeconds <= 86_400 else {
            throw ValidationError("--slow-client-timeout must be in (0, 86400] seconds")
        }
        let maxDrainDelayMs = try sources.value(maxDrainDelayMs, "max-drain-delay-ms", default: defaults.engine.pacing.maxDelay.inMilliseconds)
        guard (0...1000).contains(maxDrainDelayMs) else { throw ValidationError("--max-drain-delay-ms must be 0...1000") }
        configuration.engine.pacing = DrainPacing(maxDelay: .nanoseconds(Int64(maxDrainDelayMs * 1e6)))
        let drainBudgetMs = try sources.value(drainBudgetMs, "drain-budget-ms", default: defaults.engine.drain.budget.milliseconds)
        guard drainBudgetMs > 0, drainBudgetMs <= 1000 else { throw ValidationError("--drain-budget-ms must be in (0, 1000]") }
        configuration.engine.drain.budget = .nanoseconds(Int64(drainBudgetMs * 1e6))
        let maxFanoutLagMs = try sources.value(maxFanoutLagMs, "max-fanout-lag-ms", default: defaults.engine.drain.maxLag.milliseconds)
        guard maxFanoutLagMs > 0, maxFanoutLagMs <= 60_000 else { throw ValidationError("--max-fanout-lag-ms must be in (0, 60000]") }
        configuration.engine.drain.maxLag = .nanoseconds(Int64(maxFanoutLagMs * 1e6))

        // Compression
        let transportName = try sources.value(transport, "transport", default: "auto")
        guard transportName == "auto" || SubscriberTransport(rawValue: transportName) != nil else {
            throw ValidationError("--transport must be auto, owned or nio")
        }
        let deflateName = try sources.value(deflate, "deflate", default: defaults.deflate.rawValue)
        guard let deflateMode = PerMessageDeflateNegotiation.Mode(rawValue: deflateName) else { throw ValidationError("--deflate must be off, shared or dedicated") }
        configuration.deflate = deflateMode
        configuration.engine.deflateThresholdBytes = try sources.value(deflateThreshold, "deflate-threshold", default: defaults.engine.deflateThresholdBytes)
        guard configuration.engine.deflateThresholdBytes >= 0 else { throw ValidationError("--deflate-threshold must not be negative") }
        let zstdSetting = try sources.value(zstd, "zstd", default: "on")
        guard zstdSetting == "on" || zstdSetting == "off" else { throw ValidationError("--zstd must be on or off") }
        configuration.zstd = zstdSetting == "on"

        // Security
        configuration.origins = OriginPolicy(allowed: sources.list(allowedOrigin, "allowed-origin"))
        for origin in configuration.origins.allowed where !OriginPolicy.isValid(origin) {
            throw ValidationError("--allowed-origin must look like https://example.com or http://host:port, not \(origin)")
        }
        var proxies: [TrustedProxies.Prefix] = []
        for text in sources.list(trustedProxy, "trusted-proxy") {
            guard let prefix = TrustedProxies.Prefix(text) else {
                throw ValidationError("--trusted-proxy must be an IP address or a CIDR prefix such as 10.0.0.0/8, not \(text)")
            }
            proxies.append(prefix)
        }
        configuration.trustedProxies = TrustedProxies(prefixes: proxies)
        let ingestToken = try sources.optional(ingestToken, "ingest-token", secret: true)
        configuration.ingest.credential = IngestCredential(ingestToken)
        configuration.ingest.maxNewSymbolsPerPublisher = try sources.value(maxNewSymbolsPerPublisher, "max-new-symbols-per-publisher",
                                                                          default: defaults.ingest.maxNewSymbolsPerPublisher)
        guard configuration.ingest.maxNewSymbolsPerPublisher >= 1 else { throw ValidationError("--max-new-symbols-per-publisher must be positive") }
        let authSecret = try sources.optional(authSecret, "auth-secret", secret: true)
        let authPublicKey = try sources.optional(authPublicKey, "auth-public-key")
        if authSecret != nil, authPublicKey != nil { throw ValidationError("give --auth-secret or --auth-public-key, not both") }
        if let authSecret, authSecret.utf8.count < 32 {
            throw ValidationError("--auth-secret must be at least 32 bytes (RFC 7518 §3.2: HS256 needs a 256-bit key)")
        }
        let authAudience = try sources.optional(authAudience, "auth-audience")
        let authIssuer = try sources.optional(authIssuer, "auth-issuer")
        if authSecret == nil, authPublicKey == nil, authAudience != nil || authIssuer != nil {
            throw ValidationError("--auth-audience and --auth-issuer need auth on (--auth-secret or --auth-public-key)")
        }
        if let key = try Self.authKey(secret: authSecret, publicKeyPath: authPublicKey) {
            do {
                configuration.auth = try TokenVerifier(key: key, audience: authAudience, issuer: authIssuer)
            } catch {
                throw ValidationError("\(error)")
            }
        }
        // /ingest is served where the admin endpoints are: the admin listener if there is one.
        let ingestHost = configuration.adminPort == nil ? configuration.host : configuration.adminHost
        if configuration.feed == .ingest, !IngestCredential.isLoopback(ingestHost), configuration.ingest.credential == nil, configuration.auth == nil {
            throw ValidationError("--feed ingest on \(ingestHost) (beyond loopback) needs --ingest-token or auth (tokens with a publish claim): anyone who reaches the port could publish prices")
        }
        let tlsCert = try sources.optional(tlsCert, "tls-cert")
        let tlsKey = try sources.optional(tlsKey, "tls-key")
        if (tlsCert == nil) != (tlsKey == nil) { throw ValidationError("--tls-cert and --tls-key go together") }
        // The owned transport serves plain TCP only, and the NATS client is a NIO channel on the
        // publisher's loop, which would be an owned loop. Asked for by name, it fails closed; `auto`
        // takes NIO for these.
        let ownedCannotServe = tlsCert != nil ? "TLS (--tls-cert)"
            : configuration.feed == .nats || !configuration.publishNATS.isEmpty ? "--feed nats or --publish-nats" : nil
        switch (transportName, ownedCannotServe) {
        case ("owned", let reason?): throw ValidationError("--transport owned does not serve \(reason) yet; use --transport nio or auto")
        case ("nio", _), ("auto", _?): configuration.transport = .nio
        default: configuration.transport = .owned
        }
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
        guard let logLevel = Logger.Level(rawValue: level) else { throw ValidationError("unknown --log-level \(level)") }
        configuration.logLevel = logLevel
        try sources.checkNoUnknownFileKeys()
        try sources.checkNoUnknownVariables()
        return configuration
    }

    /// Comma-separated NATS server URLs, each checked.
    private func natsServers(_ text: String, flag: String) throws -> [String] {
        let servers = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !servers.isEmpty, servers.allSatisfy(NATSClient.isValidServerURL) else {
            throw ValidationError("\(flag) takes NATS server URLs, comma-separated: nats://host:port[,nats://host:port...]")
        }
        return servers
    }

    private func parsedSymbols(_ text: String) throws -> HubConfiguration.SymbolSelection {
        if let count = Int(text) {
            guard count >= 1 else { throw ValidationError("--symbols needs at least 1") }
            return .count(count)
        }
        var names: [Symbol] = []
        for part in text.split(separator: ",") {
            guard let symbol = Symbol(part.filter { $0 != " " }) else {
                throw ValidationError("invalid symbol \"\(part)\" (1-16 of A-Z 0-9 . - _ /)")
            }
            names.append(symbol)
        }
        guard !names.isEmpty else { throw ValidationError("--symbols is empty") }
        return .names(names)
    }

    /// The token key the settings name, if any (the PEM file read).
    private static func authKey(secret: String?, publicKeyPath: String?) throws -> TokenVerifier.Key? {
        if let secret { return .hmacSecret(secret) }
        guard let publicKeyPath else { return nil }
        do {
            return .publicKeyPEM(try String(contentsOfFile: publicKeyPath, encoding: .utf8))
        } catch {
            throw ValidationError("cannot read --auth-public-key \(publicKeyPath): \(error)")
        }
    }

    func run() async throws {
        // A fixed mmap threshold: blocks over 128 KiB are mapped and unmapped on their own. glibc
        // otherwise raises the threshold each time such a block is freed, after which start-up's
        // large temporaries (the zstd dictionary training) stay in a thread's arena: ~8 MB resident
        // for the hub's lifetime. The hub's own large blocks (rings, big replies) are few.
        _ = mallopt(M_MMAP_THRESHOLD, 128 * 1024)
        var sources = try await SettingSources.load(configPath: config ?? ProcessInfo.processInfo.environment["TICKERHUB_CONFIG"].flatMap { $0.isEmpty ? nil : $0 })
        let configuration = try makeConfiguration(from: &sources)
        if printConfig {
            print(sources.yaml())
            return
        }
        let level = configuration.logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "tickerhub")
        logger.info("starting", metadata: ["config": "\(configuration)", "config_file": "\(sources.filePath ?? "none")"])
        if configuration.auth != nil, configuration.adminPort == nil {
            logger.warning("auth is on but /metrics, /stats and /ops are public: they need no token; give --admin-port to move them to a listener of their own")
        }
        if let files = OpenFileLimit.raiseToHard() {
            logger.info("open files limit", metadata: ["soft": "\(files.soft)", "was": "\(files.softBefore)", "hard": "\(files.hard)"])
        } else {
            logger.warning("cannot read or raise the open files limit")
        }
        let prometheus = PrometheusMetrics()
        prometheus.bootstrapSwiftMetrics()
        let hub = Hub(configuration: configuration, logger: logger, prometheus: prometheus)
        let serviceGroup = ServiceGroup(
            // Shut down in reverse: the feed stops first, then the hub closes its connections.
            services: [HubService(hub: hub)] + (hub.publication.map { [$0] } ?? []) + [hub.feed]
                + (configuration.tls.map { [TLSReload(files: $0, logger: logger)] as [any Service] } ?? []),
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        )
        try await serviceGroup.run()
    }
}
