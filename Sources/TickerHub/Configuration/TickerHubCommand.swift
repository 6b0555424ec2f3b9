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

    @Option(
        help:
            """
            A config file (YAML, or JSON if it ends in .json) with any of these settings, keyed by option name.\
             (env TICKERHUB_CONFIG)
            """
    )
    var config: String?

    @Flag(help: "Print the effective configuration (YAML: each value and where it came from) and exit.")
    var printConfig = false

    @OptionGroup var settings: HubSettings

    func run() async throws {
        // A fixed mmap threshold: blocks over 128 KiB are mapped and unmapped on their own. glibc
        // otherwise raises the threshold each time such a block is freed, after which start-up's
        // large temporaries (the zstd dictionary training) stay in a thread's arena: ~8 MB resident
        // for the hub's lifetime. The hub's own large blocks (rings, big replies) are few.
        _ = mallopt(M_MMAP_THRESHOLD, 128 * 1024)
        var sources = try await SettingSources.load(
            configPath: config
                ?? ProcessInfo.processInfo.environment["TICKERHUB_CONFIG"].flatMap { $0.isEmpty ? nil : $0 })
        let configuration = try settings.configuration(from: &sources)
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
        logger.info(
            "starting", metadata: ["config": "\(configuration)", "config_file": "\(sources.filePath ?? "none")"])
        if configuration.auth != nil, configuration.adminPort == nil {
            logger.warning(
                """
                auth is on but /metrics, /stats and /ops are public: they need no token; give --admin-port to\
                 move them to a listener of their own
                """
            )
        }
        if let files = OpenFileLimit.raiseToHard() {
            logger.info(
                "open files limit",
                metadata: ["soft": "\(files.soft)", "was": "\(files.softBefore)", "hard": "\(files.hard)"])
        } else {
            logger.warning("cannot read or raise the open files limit")
        }
        let prometheus = PrometheusMetrics()
        prometheus.bootstrapSwiftMetrics()
        let hub = try Hub(configuration: configuration, logger: logger, prometheus: prometheus)
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
