import ArgumentParser
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import FanoutEngine
import CMalloc
import FeedModel
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
        discussion: "Starts with an embedded simulated market by default. Connect to ws://HOST:PORT/ws; see docs/PROTOCOL.md."
    )

    @Option(help: "Address to listen on. (env TICKERHUB_HOST)")
    var host: String = env("TICKERHUB_HOST") ?? "127.0.0.1"

    @Option(help: "Port to listen on; 0 picks a free one. (env TICKERHUB_PORT)")
    var port: Int = env("TICKERHUB_PORT").flatMap(Int.init) ?? 8080

    @Option(help: "Feed source: sim (embedded simulator) or ingest (publishers on /ingest). (env TICKERHUB_FEED)")
    var feed: String = env("TICKERHUB_FEED") ?? "sim"

    @Option(help: "Simulated symbols: a count of the default universe, or a comma-separated list. (env TICKERHUB_SYMBOLS)")
    var symbols: String = env("TICKERHUB_SYMBOLS") ?? "500"

    @Option(help: "Simulated ticks per second, over all symbols. (env TICKERHUB_RATE)")
    var rate: Double = env("TICKERHUB_RATE").flatMap(Double.init) ?? 100

    @Option(help: "Seed of the simulated market. (env TICKERHUB_SEED)")
    var seed: UInt64 = env("TICKERHUB_SEED").flatMap(UInt64.init) ?? 42

    @Option(help: "Run the simulator at 10x rate for --burst-for seconds every this many seconds; 0 is off. (env TICKERHUB_BURST_EVERY)")
    var burstEvery: Double = env("TICKERHUB_BURST_EVERY").flatMap(Double.init) ?? 0

    @Option(help: "Length of each burst, in seconds. (env TICKERHUB_BURST_FOR)")
    var burstFor: Double = env("TICKERHUB_BURST_FOR").flatMap(Double.init) ?? 2

    @Option(help: "Socket event loops (threads); the first also publishes. One unless the hub has cores to itself (see Benchmarks/ANALYSIS.md). (env TICKERHUB_EVENT_LOOPS)")
    var eventLoops: Int = env("TICKERHUB_EVENT_LOOPS").flatMap(Int.init) ?? HubConfiguration().eventLoops

    @Option(help: "Idle time after which a heartbeat message is sent, in milliseconds, for connections that do not choose (/ws?heartbeat=MS); 0 for none. (env TICKERHUB_HEARTBEAT_MS)")
    var heartbeatMs: Int = env("TICKERHUB_HEARTBEAT_MS").flatMap(Int.init) ?? HubConfiguration().heartbeatMilliseconds

    @Option(help: "Seconds without inbound traffic before a connection is pinged; unanswered for as long again, it is closed. (env TICKERHUB_PING_INTERVAL)")
    var pingInterval: Int = env("TICKERHUB_PING_INTERVAL").flatMap(Int.init) ?? HubConfiguration().pingIntervalSeconds

    @Option(help: "Updates kept per symbol so that a reconnecting client can recover what it missed (subscribe with \"since\"); 0 keeps none. Memory: about 100 bytes per update kept, times the symbols. (env TICKERHUB_HISTORY)")
    var history: Int = env("TICKERHUB_HISTORY").flatMap(Int.init) ?? 0

    @Option(help: "Most updates one subscribe may replay in recovery; symbols past it get snapshots instead. (env TICKERHUB_MAX_REPLAY)")
    var maxReplay: Int = env("TICKERHUB_MAX_REPLAY").flatMap(Int.init) ?? HubConfiguration().maxReplayPerRequest

    @Option(help: "Most symbols one connection may subscribe to. (env TICKERHUB_MAX_SYMBOLS)")
    var maxSymbols: Int = env("TICKERHUB_MAX_SYMBOLS").flatMap(Int.init) ?? 1_000

    @Option(help: "WebSocket connections the hub holds in total; past it a handshake gets 503. (env TICKERHUB_MAX_CONNECTIONS)")
    var maxConnections: Int = env("TICKERHUB_MAX_CONNECTIONS").flatMap(Int.init) ?? ConnectionLimits.Configuration().maxConnections

    @Option(help: "WebSocket connections from one IP address; past it a handshake gets 429. (env TICKERHUB_MAX_CONNECTIONS_PER_IP)")
    var maxConnectionsPerIp: Int = env("TICKERHUB_MAX_CONNECTIONS_PER_IP").flatMap(Int.init) ?? ConnectionLimits.Configuration().maxConnectionsPerIP

    @Option(help: "WebSocket handshakes one IP address may start per second, sustained; past it and past --handshake-burst, 429. (env TICKERHUB_HANDSHAKES_PER_SECOND_PER_IP)")
    var handshakesPerSecondPerIp: Double = env("TICKERHUB_HANDSHAKES_PER_SECOND_PER_IP").flatMap(Double.init) ?? ConnectionLimits.Configuration().handshakesPerSecondPerIP

    @Option(help: "WebSocket handshakes one IP address may start at once. (env TICKERHUB_HANDSHAKE_BURST)")
    var handshakeBurst: Int = env("TICKERHUB_HANDSHAKE_BURST").flatMap(Int.init) ?? ConnectionLimits.Configuration().handshakeBurst

    @Option(help: "Seconds a connection may take to finish an HTTP request or WebSocket handshake (from its start, or the end of its previous request); then it is closed. (env TICKERHUB_REQUEST_TIMEOUT)")
    var requestTimeout: Double = env("TICKERHUB_REQUEST_TIMEOUT").flatMap(Double.init) ?? 5

    @Option(help: "Largest request head (request line and headers) in bytes; a bigger one is answered 431. NIO's parser refuses past 80 KiB whatever this says. (env TICKERHUB_MAX_HEADER_BYTES)")
    var maxHeaderBytes: Int = env("TICKERHUB_MAX_HEADER_BYTES").flatMap(Int.init) ?? HubConfiguration().maxHeaderBytes

    @Option(help: "Requests one subscriber connection may send per second, sustained; past it and past --request-burst, the connection is closed with 1008. (env TICKERHUB_MAX_REQUESTS_PER_SECOND)")
    var maxRequestsPerSecond: Double = env("TICKERHUB_MAX_REQUESTS_PER_SECOND").flatMap(Double.init) ?? HubConfiguration().maxRequestsPerSecond

    @Option(help: "Requests one subscriber connection may send at once after a quiet spell. (env TICKERHUB_REQUEST_BURST)")
    var requestBurst: Int = env("TICKERHUB_REQUEST_BURST").flatMap(Int.init) ?? HubConfiguration().requestBurst

    @Option(help: "Broadcast ring size in bytes, a power of two. (env TICKERHUB_RING_BYTES)")
    var ringBytes: Int = env("TICKERHUB_RING_BYTES").flatMap(Int.init) ?? HubConfiguration().engine.ringBytes

    @Option(help: "Most bytes the hub queues for one connection; past it, updates are conflated to the latest value per symbol. (env TICKERHUB_MAX_BACKLOG_BYTES)")
    var maxBacklogBytes: Int = env("TICKERHUB_MAX_BACKLOG_BYTES").flatMap(Int.init) ?? HubConfiguration().maxBacklogBytes

    @Option(help: "Kernel send buffer per connection (SO_SNDBUF) in bytes; 0 keeps the OS's auto-tuning. (env TICKERHUB_SOCKET_SEND_BUFFER)")
    var socketSendBuffer: Int = env("TICKERHUB_SOCKET_SEND_BUFFER").flatMap(Int.init) ?? HubConfiguration().socketSendBufferBytes

    @Option(help: "Seconds a connection's backlog may stay full before it is closed with 4008 \"slow consumer\". (env TICKERHUB_SLOW_CLIENT_TIMEOUT)")
    var slowClientTimeout: Double = env("TICKERHUB_SLOW_CLIENT_TIMEOUT").flatMap(Double.init) ?? HubConfiguration().slowClientTimeoutSeconds

    @Option(help: "Longest a loop may defer fan-out after new ticks, in milliseconds, so more of them share each socket write; it adapts to load (the previous fan-out's duration, up to this). 0 fans out at once. (env TICKERHUB_MAX_DRAIN_DELAY_MS)")
    var maxDrainDelayMs: Double = env("TICKERHUB_MAX_DRAIN_DELAY_MS").flatMap(Double.init) ?? HubConfiguration().engine.pacing.maxDelay.inMilliseconds

    @Option(help: "Longest one fan-out drain holds its event loop before the loop serves its sockets again, in milliseconds. (env TICKERHUB_DRAIN_BUDGET_MS)")
    var drainBudgetMs: Double = env("TICKERHUB_DRAIN_BUDGET_MS").flatMap(Double.init) ?? HubConfiguration().engine.drain.budget.milliseconds

    @Option(help: "A loop that reaches a tick later than this after it was published, in milliseconds, conflates its backlog to the latest value per subscription instead of sending it (overload shedding, counted as dropped). (env TICKERHUB_MAX_FANOUT_LAG_MS)")
    var maxFanoutLagMs: Double = env("TICKERHUB_MAX_FANOUT_LAG_MS").flatMap(Double.init) ?? HubConfiguration().engine.drain.maxLag.milliseconds

    @Option(help: "permessage-deflate: off, shared (compress each message once for all), dedicated (a compressor per connection). (env TICKERHUB_DEFLATE)")
    var deflate: String = env("TICKERHUB_DEFLATE") ?? HubConfiguration().deflate.rawValue

    @Option(help: "Messages with a smaller payload, in bytes, are sent uncompressed. (env TICKERHUB_DEFLATE_THRESHOLD)")
    var deflateThreshold: Int = env("TICKERHUB_DEFLATE_THRESHOLD").flatMap(Int.init) ?? HubConfiguration().engine.deflateThresholdBytes

    @Option(help: "Offer the tickerhub.v1.zstd subprotocol (zstd with a shared dictionary): on or off. (env TICKERHUB_ZSTD)")
    var zstd: String = env("TICKERHUB_ZSTD") ?? "on"

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
    var maxNewSymbolsPerPublisher: Int = env("TICKERHUB_MAX_NEW_SYMBOLS_PER_PUBLISHER").flatMap(Int.init) ?? IngestLimits().maxNewSymbolsPerPublisher

    @Option(help: "A web page origin (scheme://host[:port]) allowed to open /ws and /ingest; repeat for several. Handshakes from other origins get 403; without any, every origin is allowed. (env TICKERHUB_ALLOWED_ORIGINS, comma-separated)")
    var allowedOrigin: [String] = env("TICKERHUB_ALLOWED_ORIGINS").map { $0.split(separator: ",").map(String.init) } ?? []

    @Option(help: "Move /metrics, /stats, /ops and /ingest to a listener of their own on this port; the public one then serves market data only. (env TICKERHUB_ADMIN_PORT)")
    var adminPort: Int?

    @Option(help: "Address of the admin listener. (env TICKERHUB_ADMIN_HOST)")
    var adminHost: String = env("TICKERHUB_ADMIN_HOST") ?? "127.0.0.1"

    @Option(help: "Also listen on this port with a WebSocket echo server, for conformance tests (Autobahn). (env TICKERHUB_ECHO_PORT)")
    var echoPort: Int?

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical. (env TICKERHUB_LOG_LEVEL)")
    var logLevel: String = env("TICKERHUB_LOG_LEVEL") ?? "info"

    func validate() throws {
        guard HubConfiguration.FeedMode(rawValue: feed) != nil else { throw ValidationError("--feed must be sim or ingest") }
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0...65535") }
        guard rate >= 0 else { throw ValidationError("--rate must not be negative") }
        guard eventLoops >= 1 else { throw ValidationError("--event-loops must be at least 1") }
        guard (0...1_000_000).contains(history) else { throw ValidationError("--history must be 0...1000000 updates per symbol") }
        guard maxReplay >= 0 else { throw ValidationError("--max-replay must not be negative") }
        guard pingInterval >= 1 else { throw ValidationError("--ping-interval must be at least 1 second") }
        guard SubscriberOptions.isValidHeartbeat(heartbeatMs) else {
            throw ValidationError("--heartbeat-ms must be 0 (none) or \(SubscriberOptions.minimumHeartbeatMilliseconds)...\(SubscriberOptions.maximumHeartbeatMilliseconds)")
        }
        guard ringBytes >= 64 * 1024, ringBytes.nonzeroBitCount == 1 else { throw ValidationError("--ring-bytes must be a power of two, at least 65536") }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("unknown --log-level \(logLevel)") }
        guard PerMessageDeflateNegotiation.Mode(rawValue: deflate) != nil else { throw ValidationError("--deflate must be off, shared or dedicated") }
        guard zstd == "on" || zstd == "off" else { throw ValidationError("--zstd must be on or off") }
        guard deflateThreshold >= 0 else { throw ValidationError("--deflate-threshold must not be negative") }
        for origin in allowedOrigin where !OriginPolicy.isValid(origin) {
            throw ValidationError("--allowed-origin must look like https://example.com or http://host:port, not \(origin)")
        }
        if let adminPort = adminPort ?? env("TICKERHUB_ADMIN_PORT").flatMap(Int.init), !(0...65535).contains(adminPort) {
            throw ValidationError("--admin-port must be 0...65535")
        }
        if let echoPort, !(0...65535).contains(echoPort) { throw ValidationError("--echo-port must be 0...65535") }
        // /ingest is served where the admin endpoints are: the admin listener if there is one.
        let hasAuth = try authKey != nil
        let ingestHost = (adminPort ?? env("TICKERHUB_ADMIN_PORT").flatMap(Int.init)) == nil ? host : adminHost
        if feed == HubConfiguration.FeedMode.ingest.rawValue, !IngestCredential.isLoopback(ingestHost),
           IngestCredential(ingestToken ?? env("TICKERHUB_INGEST_TOKEN")) == nil, !hasAuth {
            throw ValidationError("--feed ingest on \(ingestHost) (beyond loopback) needs --ingest-token or auth (tokens with a publish claim): anyone who reaches the port could publish prices")
        }
        if authSecret ?? env("TICKERHUB_AUTH_SECRET") != nil, authPublicKey ?? env("TICKERHUB_AUTH_PUBLIC_KEY") != nil {
            throw ValidationError("give --auth-secret or --auth-public-key, not both")
        }
        if let secret = authSecret ?? env("TICKERHUB_AUTH_SECRET"), secret.utf8.count < 32 {
            throw ValidationError("--auth-secret must be at least 32 bytes (RFC 7518 §3.2: HS256 needs a 256-bit key)")
        }
        if (tlsCert ?? env("TICKERHUB_TLS_CERT") == nil) != (tlsKey ?? env("TICKERHUB_TLS_KEY") == nil) {
            throw ValidationError("--tls-cert and --tls-key go together")
        }
        guard maxNewSymbolsPerPublisher >= 1 else { throw ValidationError("--max-new-symbols-per-publisher must be positive") }
        guard maxConnections >= 1, maxConnectionsPerIp >= 1, handshakesPerSecondPerIp > 0, handshakeBurst >= 1 else {
            throw ValidationError("--max-connections, --max-connections-per-ip, --handshakes-per-second-per-ip and --handshake-burst must be positive")
        }
        guard (1024...80 * 1024).contains(maxHeaderBytes) else { throw ValidationError("--max-header-bytes must be 1024...81920") }
        guard requestTimeout > 0, requestTimeout <= 3600 else { throw ValidationError("--request-timeout must be in (0, 3600] seconds") }
        guard maxRequestsPerSecond > 0, requestBurst >= 1 else { throw ValidationError("--max-requests-per-second must be positive and --request-burst at least 1") }
        guard maxBacklogBytes >= 4096 else { throw ValidationError("--max-backlog-bytes must be at least 4096") }
        guard socketSendBuffer == 0 || socketSendBuffer >= 4096 else { throw ValidationError("--socket-send-buffer must be 0 or at least 4096") }
        guard (0...1000).contains(maxDrainDelayMs) else { throw ValidationError("--max-drain-delay-ms must be 0...1000") }
        guard drainBudgetMs > 0, drainBudgetMs <= 1000 else { throw ValidationError("--drain-budget-ms must be in (0, 1000]") }
        guard maxFanoutLagMs > 0, maxFanoutLagMs <= 60_000 else { throw ValidationError("--max-fanout-lag-ms must be in (0, 60000]") }
        guard slowClientTimeout > 0 else { throw ValidationError("--slow-client-timeout must be a positive number of seconds") }
        if burstEvery < 0 || (burstEvery > 0 && (burstFor <= 0 || burstFor > burstEvery)) {
            throw ValidationError("--burst-for must be positive and fit in --burst-every")
        }
        _ = try parsedSymbols()
    }

    func parsedSymbols() throws -> HubConfiguration.SymbolSelection {
        if let count = Int(symbols) {
            guard count >= 1 else { throw ValidationError("--symbols needs at least 1") }
            return .count(count)
        }
        var names: [Symbol] = []
        for part in symbols.split(separator: ",") {
            guard let symbol = Symbol(part.filter { $0 != " " }) else {
                throw ValidationError("invalid symbol \"\(part)\" (1-16 of A-Z 0-9 . - _ /)")
            }
            names.append(symbol)
        }
        guard !names.isEmpty else { throw ValidationError("--symbols is empty") }
        return .names(names)
    }

    /// The token key the flags or the environment name, if any (the PEM file read).
    private var authKey: TokenVerifier.Key? {
        get throws {
            if let secret = authSecret ?? env("TICKERHUB_AUTH_SECRET") { return .hmacSecret(secret) }
            guard let path = authPublicKey ?? env("TICKERHUB_AUTH_PUBLIC_KEY") else { return nil }
            do {
                return .publicKeyPEM(try String(contentsOfFile: path, encoding: .utf8))
            } catch {
                throw ValidationError("cannot read --auth-public-key \(path): \(error)")
            }
        }
    }

    func makeConfiguration() throws -> HubConfiguration {
        var configuration = HubConfiguration()
        if let key = try authKey {
            do {
                configuration.auth = try TokenVerifier(key: key)
            } catch {
                throw ValidationError("\(error)")
            }
        }
        if let cert = tlsCert ?? env("TICKERHUB_TLS_CERT"), let key = tlsKey ?? env("TICKERHUB_TLS_KEY") {
            do {
                configuration.tls = try TLSFiles(certificatePath: cert, privateKeyPath: key)
            } catch {
                throw ValidationError("cannot use --tls-cert \(cert) and --tls-key \(key): \(error)")
            }
        }
        configuration.host = host
        configuration.port = port
        configuration.feed = HubConfiguration.FeedMode(rawValue: feed)!
        configuration.symbols = try parsedSymbols()
        configuration.ticksPerSecond = rate
        configuration.seed = seed
        configuration.burstPeriodSeconds = burstEvery > 0 ? burstEvery : nil
        configuration.burstLengthSeconds = burstFor
        configuration.eventLoops = eventLoops
        configuration.heartbeatMilliseconds = heartbeatMs
        configuration.pingIntervalSeconds = pingInterval
        configuration.maxSymbolsPerConnection = maxSymbols
        configuration.engine.historyDepth = history
        configuration.maxReplayPerRequest = maxReplay
        configuration.connectionLimits = ConnectionLimits.Configuration(
            maxConnections: maxConnections, maxConnectionsPerIP: maxConnectionsPerIp,
            handshakesPerSecondPerIP: handshakesPerSecondPerIp, handshakeBurst: handshakeBurst)
        configuration.requestTimeout = .nanoseconds(Int64(requestTimeout * 1e9))
        configuration.maxHeaderBytes = maxHeaderBytes
        configuration.maxRequestsPerSecond = maxRequestsPerSecond
        configuration.requestBurst = requestBurst
        configuration.engine.ringBytes = ringBytes
        configuration.maxBacklogBytes = maxBacklogBytes
        configuration.slowClientTimeoutSeconds = slowClientTimeout
        configuration.engine.pacing = DrainPacing(maxDelay: .nanoseconds(Int64(maxDrainDelayMs * 1e6)))
        configuration.engine.drain.budget = .nanoseconds(Int64(drainBudgetMs * 1e6))
        configuration.engine.drain.maxLag = .nanoseconds(Int64(maxFanoutLagMs * 1e6))
        configuration.socketSendBufferBytes = socketSendBuffer
        configuration.deflate = PerMessageDeflateNegotiation.Mode(rawValue: deflate)!
        configuration.engine.deflateThresholdBytes = deflateThreshold
        configuration.zstd = zstd == "on"
        configuration.origins = OriginPolicy(allowed: allowedOrigin)
        configuration.ingest.credential = IngestCredential(ingestToken ?? env("TICKERHUB_INGEST_TOKEN"))
        configuration.ingest.maxNewSymbolsPerPublisher = maxNewSymbolsPerPublisher
        configuration.echoPort = echoPort ?? env("TICKERHUB_ECHO_PORT").flatMap(Int.init)
        configuration.adminPort = adminPort ?? env("TICKERHUB_ADMIN_PORT").flatMap(Int.init)
        configuration.adminHost = adminHost
        configuration.logLevel = Logger.Level(rawValue: logLevel)!
        return configuration
    }

    func run() async throws {
        // A fixed mmap threshold: blocks over 128 KiB are mapped and unmapped on their own. glibc
        // otherwise raises the threshold each time such a block is freed, after which start-up's
        // large temporaries (the zstd dictionary training) stay in a thread's arena: ~8 MB resident
        // for the hub's lifetime. The hub's own large blocks (rings, big replies) are few.
        _ = mallopt(M_MMAP_THRESHOLD, 128 * 1024)
        let configuration = try makeConfiguration()
        let level = configuration.logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "tickerhub")
        logger.info("starting", metadata: ["config": "\(configuration)"])
        if let files = OpenFileLimit.raiseToHard() {
            logger.info("open files limit", metadata: ["soft": "\(files.soft)", "was": "\(files.softBefore)", "hard": "\(files.hard)"])
        } else {
            logger.warning("cannot read or raise the open files limit")
        }
        let prometheus = PrometheusMetrics()
        prometheus.bootstrapSwiftMetrics()
        let hub = Hub(configuration: configuration, logger: logger, prometheus: prometheus)
        let serviceGroup = ServiceGroup(
            services: [HubService(hub: hub)],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        )
        try await serviceGroup.run()
    }
}

private func env(_ name: String) -> String? {
    guard let value = getenv(name) else { return nil }
    let text = String(cString: value)
    return text.isEmpty ? nil : text
}
