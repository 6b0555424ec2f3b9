import FanoutEngine
import FeedModel
import Logging
import NATSClient
import NATSTicks
import NIOCore
import ServiceLifecycle

/// `--publish-nats`: this hub's ticks, as sequenced, and its book changes, numbered per symbol, also
/// go to NATS (`TickSubjects`), so hubs started with `--feed nats://…` fan out the same market with
/// the same seqs and epoch. It answers warm-start requests from the ticks and books it published.
///
/// Threading: the NATS client runs on the publisher's loop and the tap is called there; a batch
/// of ticks goes out in one write. While NATS is unreachable, up to the client's pending limit
/// (8 MB) is held and the rest dropped, counted by the client: the hub itself never waits.
final class NATSPublication: Service, @unchecked Sendable {
    private let client: NATSClient
    private let publisher: TickPublisher
    private let logger: Logger
    private var published = PublishedTicks()

    /// Taps the publisher at once, so the feed's first ticks (its opening quotes) are published too.
    init(servers: [String], token: String?, publisher: TickPublisher, logger: Logger) {
        client = NATSClient(
            configuration: .init(servers: servers, name: "tickerhub-publisher", token: token),
            eventLoop: publisher.eventLoop)
        self.publisher = publisher
        self.logger = logger
        publisher.addTap { [self] ticks in publish(ticks) }
        publisher.addBookTap { [self] books in client.publish(published.messages(for: books, epoch: publisher.epoch)) }
        publisher.addDetailTap { [self] instruments in
            client.publish(published.messages(for: instruments, epoch: publisher.epoch))
        }
    }

    func run() async throws {
        client.onEvent = { [logger] event in
            switch event {
            case .connected(let server): logger.info("publishing to NATS", metadata: ["server": "\(server)"])
            case let .disconnected(server, reason):
                logger.warning("NATS publication lost", metadata: ["server": "\(server)", "reason": "\(reason)"])
            case .error(let text): logger.warning("NATS publication error", metadata: ["error": "\(text)"])
            case .reconnecting, .closed: break
            }
        }
        SnapshotResponder.serve(on: client) { [self] in (publisher.epoch, published.latest) }
        _ = client.connect()
        try? await gracefulShutdown()
        // Let what was published reach the server before going.
        _ = try? await client.flush().get()
        try? await client.close().get()
    }

    private func publish(_ ticks: [Tick]) {
        client.publish(published.messages(for: ticks, epoch: publisher.epoch))
    }
}
