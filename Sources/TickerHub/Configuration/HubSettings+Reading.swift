import ArgumentParser
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import FanoutEngine
import FeedModel
import Logging
import NATSClient
import NIOCore

extension HubSettings {
    /// Resolves every setting (flag, environment, file, default: `SettingSources`) into the hub's
    /// configuration, and checks it (`HubConfiguration.validate`). Only what cannot be a field of
    /// the configuration is checked here: text that does not parse, secrets, and files to read.
    func configuration(from sources: inout SettingSources) throws -> HubConfiguration {
        var configuration = HubConfiguration()
        let defaults = HubConfiguration()
        let limitDefaults = ConnectionLimits.Configuration()

        // Listening
        configuration.host = try sources.value(host, "host", default: defaults.host)
        configuration.port = try sources.value(port, "port", default: defaults.port)
        configuration.adminPort = try sources.optional(adminPort, "admin-port")
        configuration.adminHost = try sources.value(adminHost, "admin-host", default: defaults.adminHost)
        configuration.echoPort = try sources.optional(echoPort, "echo-port")
        configuration.eventLoops = try sources.value(eventLoops, "event-loops", default: defaults.eventLoops)

        // The feed
        let feedName = try sources.value(feed, "feed", default: defaults.feed.rawValue)
        if feedName.hasPrefix("nats://") {
            configuration.feed = .nats
            configuration.natsServers = try Self.natsServers(feedName, flag: "--feed")
        } else {
            guard let feedMode = HubConfiguration.FeedMode(rawValue: feedName), feedMode != .nats else {
                throw ValidationError("--feed must be sim, ingest or nats://host:port[,nats://...]")
            }
            configuration.feed = feedMode
        }
        if let publishTo = try sources.optional(publishNats, "publish-nats") {
            configuration.publishNATS = try Self.natsServers(publishTo, flag: "--publish-nats")
        }
        configuration.natsToken = try sources.optional(natsToken, "nats-token", secret: true)
        configuration.symbols = try Self.parsedSymbols(try sources.value(symbols, "symbols", default: "500"))
        configuration.ticksPerSecond = try sources.value(rate, "rate", default: defaults.ticksPerSecond)
        configuration.seed = try sources.value(seed, "seed", default: defaults.seed)
        let burstEvery = try sources.value(burstEvery, "burst-every", default: 0.0)
        configuration.burstPeriodSeconds = burstEvery != 0 ? burstEvery : nil  // 0 is off; a negative one is refused
        configuration.burstLengthSeconds = try sources.value(
            burstFor, "burst-for", default: defaults.burstLengthSeconds)

        // Subscribers
        configuration.heartbeatMilliseconds = try sources.value(
            heartbeatMs, "heartbeat-ms", default: defaults.heartbeatMilliseconds)
        configuration.pingIntervalSeconds = try sources.value(
            pingInterval, "ping-interval", default: defaults.pingIntervalSeconds)
        configuration.engine.historyDepth = try sources.value(history, "history", default: defaults.engine.historyDepth)
        configuration.maxReplayPerRequest = try sources.value(
            maxReplay, "max-replay", default: defaults.maxReplayPerRequest)
        configuration.maxSymbolsPerConnection = try sources.value(
            maxSymbols, "max-symbols", default: defaults.maxSymbolsPerConnection)

        // Limits
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
                requestTimeout, "request-timeout",
                default: defaults.requestTimeout.milliseconds / 1000))
        configuration.maxHeaderBytes = try sources.value(
            maxHeaderBytes, "max-header-bytes", default: defaults.maxHeaderBytes)
        configuration.maxRequestsPerSecond = try sources.value(
            maxRequestsPerSecond, "max-requests-per-second", default: defaults.maxRequestsPerSecond)
        configuration.requestBurst = try sources.value(requestBurst, "request-burst", default: defaults.requestBurst)

        // The engine and slow clients
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

        // Compression
        let transportName = try sources.value(transport, "transport", default: "auto")
        guard transportName == "auto" || SubscriberTransport(rawValue: transportName) != nil else {
            throw ValidationError("--transport must be auto, owned or nio")
        }
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

        // Security
        configuration.origins = OriginPolicy(allowed: sources.list(allowedOrigin, "allowed-origin"))
        var proxies: [TrustedProxies.Prefix] = []
        for text in sources.list(trustedProxy, "trusted-proxy") {
            guard let prefix = TrustedProxies.Prefix(text) else {
                throw ValidationError(
                    "--trusted-proxy must be an IP address or a CIDR prefix such as 10.0.0.0/8, not \(text)")
            }
            proxies.append(prefix)
        }
        configuration.trustedProxies = TrustedProxies(prefixes: proxies)
        configuration.ingest.credential = IngestCredential(
            try sources.optional(ingestToken, "ingest-token", secret: true))
        configuration.ingest.maxNewSymbolsPerPublisher = try sources.value(
            maxNewSymbolsPerPublisher, "max-new-symbols-per-publisher",
            default: defaults.ingest.maxNewSymbolsPerPublisher)
        configuration.auth = try readAuthentication(&sources)
        let tlsCert = try sources.optional(tlsCert, "tls-cert")
        let tlsKey = try sources.optional(tlsKey, "tls-key")
        if (tlsCert == nil) != (tlsKey == nil) { throw ValidationError("--tls-cert and --tls-key go together") }
        if let tlsCert, let tlsKey {
            do {
                configuration.tls = try TLSFiles(certificatePath: tlsCert, privateKeyPath: tlsKey)
            } catch {
                throw ValidationError("cannot use --tls-cert \(tlsCert) and --tls-key \(tlsKey): \(error)")
            }
        }
        // `auto`: owned where it serves, else NIO (`validate` refuses owned asked for by name where it cannot serve).
        let ownedServes = configuration.tls == nil && configuration.feed != .nats && configuration.publishNATS.isEmpty
        configuration.transport = transportName == "nio" || (transportName == "auto" && !ownedServes) ? .nio : .owned
        // The hub's own pages are https:// behind TLS: a same-origin page must say so.
        configuration.origins.listenerScheme = configuration.tls == nil ? "http" : "https"

        let level = try sources.value(logLevel, "log-level", default: defaults.logLevel.rawValue)
        guard let logLevel = Logger.Level(rawValue: level) else {
            throw ValidationError("unknown --log-level \(level)")
        }
        configuration.logLevel = logLevel
        try sources.checkNoUnknownFileKeys()
        try sources.checkNoUnknownVariables()
        do {
            try configuration.validate()
        } catch {
            throw ValidationError(error.description)
        }
        return configuration
    }

    /// The token verifier the auth settings describe, or nil when auth is off.
    private func readAuthentication(_ sources: inout SettingSources) throws -> TokenVerifier? {
        let authSecret = try sources.optional(authSecret, "auth-secret", secret: true)
        let authPublicKey = try sources.optional(authPublicKey, "auth-public-key")
        if authSecret != nil, authPublicKey != nil {
            throw ValidationError("give --auth-secret or --auth-public-key, not both")
        }
        if let authSecret, authSecret.utf8.count < 32 {
            throw ValidationError("--auth-secret must be at least 32 bytes (RFC 7518 §3.2: HS256 needs a 256-bit key)")
        }
        let authAudience = try sources.optional(authAudience, "auth-audience")
        let authIssuer = try sources.optional(authIssuer, "auth-issuer")
        guard let key = try Self.authKey(secret: authSecret, publicKeyPath: authPublicKey) else {
            if authAudience != nil || authIssuer != nil {
                throw ValidationError(
                    "--auth-audience and --auth-issuer need auth on (--auth-secret or --auth-public-key)")
            }
            return nil
        }
        do {
            return try TokenVerifier(key: key, audience: authAudience, issuer: authIssuer)
        } catch {
            throw ValidationError("\(error)")
        }
    }

    /// Comma-separated NATS server URLs, each checked.
    private static func natsServers(_ text: String, flag: String) throws -> [String] {
        let servers = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !servers.isEmpty, servers.allSatisfy(NATSClient.isValidServerURL) else {
            throw ValidationError(
                "\(flag) takes NATS server URLs, comma-separated: nats://host:port[,nats://host:port...]")
        }
        return servers
    }

    private static func parsedSymbols(_ text: String) throws -> HubConfiguration.SymbolSelection {
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
}
