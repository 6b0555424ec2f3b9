import FanoutEngine
import FeedModel
import Logging
import NIOEmbedded
import Testing
@testable import TickerHub

/// The feed seam: which source a configuration makes, and what the hub expects from it before it
/// has sent anything (the zstd dictionary's training set).
@Suite struct FeedSourceTests {
    private let status = FeedStatusBoard(connections: ConnectionRegistry(), logger: Logger(label: "test"))

    private func engine(_ configure: (inout HubConfiguration) -> Void) -> (HubConfiguration, TickPublisher) {
        var configuration = HubConfiguration()
        configure(&configuration)
        var engineConfiguration = EngineConfiguration()
        engineConfiguration.ringBytes = 1 << 16
        let loop = EmbeddedEventLoop()
        return (
            configuration,
            BroadcastEngine(configuration: engineConfiguration, loops: [loop], publisherLoop: loop).publisher
        )
    }

    @Test func theConfigurationPicksTheSourceAndOnlyIngestTakesPublishers() {
        let (sim, simPublisher) = engine {
            $0.feed = .sim
            $0.symbols = .count(5)
        }
        let simulated = FeedSources.make(sim, publisher: simPublisher, status: status, logger: Logger(label: "test"))
        #expect(simulated is SimulatedFeed && simulated.name == "sim" && !simulated.acceptsPublishers)
        #expect(simPublisher.directory.count == 5, "the simulated universe is registered when the source is made")
        let (ingest, ingestPublisher) = engine { $0.feed = .ingest }
        let publishers = FeedSources.make(
            ingest, publisher: ingestPublisher, status: status, logger: Logger(label: "test"))
        #expect(publishers is IngestFeed && publishers.name == "ingest" && publishers.acceptsPublishers)
        #expect(status.isWarm && status.condition == .live, "the simulator and ingest start warm and live")
        let (nats, natsPublisher) = engine {
            $0.feed = .nats
            $0.natsServers = ["nats://127.0.0.1:1"]
        }
        let natsStatus = FeedStatusBoard(connections: ConnectionRegistry(), logger: Logger(label: "test"))
        let cluster = FeedSources.make(
            nats, publisher: natsPublisher, status: natsStatus, logger: Logger(label: "test"))
        #expect(cluster is NATSFeed && cluster.name == "nats" && !cluster.acceptsPublishers)
        #expect(!natsStatus.isWarm && natsStatus.condition != .live, "a NATS-fed hub is not ready until it has values")
    }

    @Test func theDictionaryIsTheSameOnEveryNodeAtAnyTime() throws {
        var configuration = HubConfiguration()
        configuration.symbols = .count(40)
        let instruments = FeedSources.dictionaryInstruments(configuration)
        let first = try ZstdDictionaryTraining.train(instruments: instruments, seed: 7, samples: 1_000)
        let second = try ZstdDictionaryTraining.train(instruments: instruments, seed: 7, samples: 1_000)
        #expect(first.id == second.id && first.bytes == second.bytes)
        let other = try ZstdDictionaryTraining.train(instruments: instruments, seed: 8, samples: 1_000)
        #expect(other.id != first.id)
    }
}
