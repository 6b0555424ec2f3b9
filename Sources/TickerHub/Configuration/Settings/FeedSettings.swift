import ArgumentParser
import FeedModel
import NATSClient
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Where the ticks come from: the simulator (and its market), publishers on `/ingest`, or NATS; and
/// whether this hub publishes its simulated market to NATS.
struct FeedSettings: ParsableArguments {
    @Option(
        help:
            """
            Feed source: sim (embedded simulator), ingest (publishers on /ingest), or NATS server URLs,\
             comma-separated (nats://127.0.0.1:4222,nats://127.0.0.1:4223): ticks from subjects ticks.<SYMBOL>.\
             (env TICKERHUB_FEED)
            """
    )
    var feed: String?

    @Option(
        help:
            """
            Also publish this hub's ticks to NATS (comma-separated server URLs), so it feeds hubs started with\
             --feed nats://...; with --feed sim. (env TICKERHUB_PUBLISH_NATS)
            """
    )
    var publishNats: String?

    @Option(
        help:
            """
            The token the NATS servers require (nats-server --auth), for --feed nats:// and --publish-nats.\
             Prefer the environment variable: arguments show in ps. (env TICKERHUB_NATS_TOKEN)
            """
    )
    var natsToken: String?

    @Option(
        help: "Simulated symbols: a count of the default universe, or a comma-separated list. (env TICKERHUB_SYMBOLS)")
    var symbols: String?

    @Option(help: "Simulated ticks per second, over all symbols. (env TICKERHUB_RATE)")
    var rate: Double?

    @Option(help: "Seed of the simulated market. (env TICKERHUB_SEED)")
    var seed: UInt64?

    @Option(
        help:
            """
            Run the simulator at 10x rate for --burst-for seconds every this many seconds; 0 is off. (env\
             TICKERHUB_BURST_EVERY)
            """
    )
    var burstEvery: Double?

    @Option(help: "Length of each burst, in seconds. (env TICKERHUB_BURST_FOR)")
    var burstFor: Double?

    /// Reads this group's settings into `configuration`.
    func read(into configuration: inout HubConfiguration, from sources: inout SettingSources) throws {
        let defaults = HubConfiguration()
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
    }

    /// This group's rules, which every configuration is held to (`HubConfiguration.validate`).
    static func check(_ configuration: HubConfiguration) throws(ConfigurationError) {
        try require(
            configuration.publishNATS.isEmpty || configuration.feed == .sim,
            "--publish-nats goes with --feed sim: a hub publishes the market it simulates")
        try require(configuration.ticksPerSecond >= 0, "--rate must not be negative")
        if let period = configuration.burstPeriodSeconds {
            let length = configuration.burstLengthSeconds
            try require(
                period > 0 && length > 0 && length <= period, "--burst-for must be positive and fit in --burst-every")
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
}
