import FeedModel
import Foundation
import NATSClient
import NATSTicks
import NIOCore
import NIOPosix

/// `feedsim publish --nats`: the cluster's market source. It numbers every symbol's ticks from 1
/// under an epoch of its own (new at every start, so hubs can tell a restart from a gap), sends its
/// opening quotes first, then the simulated ticks at the rate, one message per tick on
/// `ticks.<SYMBOL>` (`TickSubjects`), and answers warm-start requests from its latest ticks.
///
/// Threading: everything runs on the NATS client's loop.
final class NATSTickPublishing: @unchecked Sendable {
    private let client: NATSClient
    private let group: MultiThreadedEventLoopGroup
    private var ticks: SimulatedTicks
    private var published = PublishedTicks()
    private let epoch = FeedEpoch.starting(at: .now())
    private let duration: Double?
    private let batchMilliseconds: Int

    init(
        servers: [String], symbols: Int, seed: UInt64, rate: Double, limit: Int?, duration: Double?,
        batchMilliseconds: Int, token: String?,
        books: Bool
    ) {
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var configuration = NATSClient.Configuration(servers: servers, name: "feedsim-publish", token: token)
        // A publisher holds more while a server is away: hubs see the gap either way, but a short
        // failover should not lose anything.
        configuration.maxPendingBytes = 32 << 20
        client = NATSClient(configuration: configuration, eventLoop: group.next())
        ticks = SimulatedTicks(symbols: symbols, seed: seed, rate: rate, limit: limit, books: books)
        self.duration = duration
        self.batchMilliseconds = batchMilliseconds
    }

    func run() async throws {
        client.onEvent = { event in
            switch event {
            case .connected(let server): log("NATS: connected to \(server)")
            case let .disconnected(server, reason): log("NATS: lost \(server): \(reason)")
            case .error(let text): log("NATS: \(text)")
            case .reconnecting, .closed: break
            }
        }
        let loop = client.eventLoop
        _ = try await SnapshotResponder.serve(on: client) { [self] in (epoch, published.latest) }.get()
        try await client.connect().get()
        log("publishing to NATS, epoch \(epoch)")
        let started = Date()
        let task = try await loop.submit { [self] in
            client.publish(published.messages(for: ticks.instruments, epoch: epoch))
            publish(ticks.openingQuotes())
            client.publish(published.messages(for: ticks.openingBooks(), epoch: epoch))
            return loop.scheduleRepeatedTask(
                initialDelay: .milliseconds(Int64(batchMilliseconds)),
                delay: .milliseconds(Int64(batchMilliseconds))
            ) { task in
                if self.pump() { task.cancel() }
            }
        }.get()
        var lastReport = started
        while true {
            try await Task.sleep(for: .milliseconds(200))
            let (sent, done) = try await loop.submit { [self] in (ticks.generated, ticks.reachedLimit) }.get()
            if done { break }
            if let duration, Date().timeIntervalSince(started) >= duration { break }
            if Date().timeIntervalSince(lastReport) >= 1 {
                lastReport = Date()
                let elapsed = lastReport.timeIntervalSince(started)
                log(String(format: "t=%4.1fs sent=%d (%.0f/s)", elapsed, sent, Double(sent) / elapsed))
            }
        }
        try await loop.submit { task.cancel() }.get()
        try? await client.flush().get()
        let sent = try await loop.submit { [self] in ticks.generated }.get()
        let statistics = try await client.stats().get()
        print(
            String(
                format: "published %d ticks in %.2fs (to NATS; %d publishes dropped while disconnected)",
                sent, Date().timeIntervalSince(started), statistics.droppedPublishes))
        try? await client.close().get()
        try await group.shutdownGracefully()
    }

    /// Sends what is due; true at the limit.
    private func pump() -> Bool {
        ticks.accrue()
        while ticks.owed > 0 {
            let batch = ticks.take(4096, numbered: true)
            publish(batch.ticks)
            if !batch.books.isEmpty { client.publish(published.messages(for: batch.books, epoch: epoch)) }
        }
        return ticks.reachedLimit
    }

    private func publish(_ batch: [Tick]) {
        client.publish(published.messages(for: batch, epoch: epoch))
    }
}
