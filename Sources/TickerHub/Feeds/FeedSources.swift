import FanoutEngine
import FeedModel
import Logging
import ServiceLifecycle

/// The feed's composition root: the one place that turns `--feed` into a `FeedSource`, and says
/// what the hub should expect from it before it has sent anything.
enum FeedSources {
    static func make(
        _ configuration: HubConfiguration, publisher: TickPublisher, status: FeedStatusBoard, logger: Logger
    ) -> any FeedSource {
        switch configuration.feed {
        case .sim: SimulatedFeed(configuration: configuration, publisher: publisher)
        case .ingest: IngestFeed()
        case .nats:
            NATSFeed(
                servers: configuration.natsServers, token: configuration.natsToken, publisher: publisher,
                status: status, logger: logger)
        }
    }

    /// The publication of this hub's ticks to NATS (`--publish-nats`), if asked for. Made before the
    /// feed, so it sees the feed's first ticks.
    static func publication(_ configuration: HubConfiguration, publisher: TickPublisher, logger: Logger) -> (
        any Service
    )? {
        guard !configuration.publishNATS.isEmpty else { return nil }
        return NATSPublication(
            servers: configuration.publishNATS, token: configuration.natsToken, publisher: publisher, logger: logger)
    }

    /// The instruments the zstd dictionary is trained on (`ZstdDictionaryTraining`): the simulated
    /// universe itself, or, for a feed whose symbols are not known at start, the default universe
    /// (the dictionary learns the messages' shape; any symbols serve).
    static func dictionaryInstruments(_ configuration: HubConfiguration) -> [Instrument] {
        switch configuration.feed {
        case .sim: simulatedInstruments(configuration)
        case .ingest, .nats: SymbolUniverse.instruments(count: 500, seed: configuration.seed)
        }
    }

    /// The simulated market's instruments: the first N of the default universe, or named tickers.
    static func simulatedInstruments(_ configuration: HubConfiguration) -> [Instrument] {
        switch configuration.symbols {
        case .count(let count): SymbolUniverse.instruments(count: count, seed: configuration.seed)
        case .names(let names): SymbolUniverse.instruments(named: names, seed: configuration.seed)
        }
    }
}
