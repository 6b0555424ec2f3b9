import FanoutEngine
import FeedModel
import Logging
import NATSClient
import NATSTicks
import NIOCore
import ServiceLifecycle

/// The cluster feed (`--feed nats://…`): ticks from NATS subjects `ticks.<SYMBOL>`, and book changes
/// from `books.<SYMBOL>` (`TickSubjects`), published by `feedsim publish --nats` or by a hub with
/// `--publish-nats`.
///
/// - **Numbering.** Each tick keeps its publisher's seq, so every hub fed alike numbers alike, and a
///   seq the publisher skipped is a gap every client sees. The publisher's epoch (a header on every
///   message) is adopted: a newer one means the publisher restarted, so the numbering starts again
///   (`TickPublisher.beginEpoch`) and subscribers are closed to re-base; an older one is a straggler
///   (a message of the previous publisher, an answer from a node that has not moved on): dropped.
/// - **Warm start.** Once subscribed, it asks `tickerhub.snapshot`; any live publisher or warm hub
///   answers with every symbol's latest quote and trade, applied like live ticks (by seq, so the
///   newer of the answer and the live stream wins). `/readyz` says 503 until an answer came. It asks
///   again after every reconnect, so values that changed while the upstream was lost converge.
/// - **Books.** A book changes only while its changes follow on from a whole book
///   (`PublisherBooks`). A book that falls out of step (a message lost, or the hub joined in the
///   middle of its stream) is mended by asking `tickerhub.snapshot` again, whose answer carries
///   whole books; a book the hub holds in step and at least as new is not replaced by an answer's.
/// - **Lost upstream.** While no server of the cluster is reachable, the hub serves its last values
///   and subscribers get a `status` message saying they are stale; the NATS client reconnects with
///   jittered backoff across the cluster's members, and `live` follows. What was missed meanwhile
///   shows as gaps in the seqs.
///
/// Threading: the NATS client runs on the publisher's loop, so a socket read's ticks go to the ring
/// as one batch (`onReadComplete`) with no thread hop. All mutable state is confined to that loop.
final class NATSFeed: FeedSource, @unchecked Sendable {
    private let client: NATSClient
    private let publisher: TickPublisher
    private let status: FeedStatusBoard
    private let logger: Logger
    /// Ticks and book changes of the current socket read, published together at its end.
    private var batch: [FeedUpdate] = []
    private var bookBatch: [BookFeedUpdate] = []
    /// A book fell out of step since the last snapshot request: ask for whole books again.
    private var booksOutOfStep = false
    private var bookRequestPending = false
    /// What this hub answers a peer's warm-start request with.
    private var lastTicks = LastTicks()
    /// The publisher's numbering, from its first message; nil before any.
    private var adopted: FeedEpoch?
    /// A warm-start answer was applied (since the last new epoch).
    private var warm = false
    private var rejected: UInt64 = 0

    static let snapshotTimeout = TimeAmount.seconds(2)
    static let snapshotRetry = TimeAmount.seconds(1)

    init(servers: [String], token: String?, publisher: TickPublisher, status: FeedStatusBoard, logger: Logger) {
        client = NATSClient(
            configuration: .init(servers: servers, name: "tickerhub-feed", token: token), eventLoop: publisher.eventLoop
        )
        self.publisher = publisher
        self.status = status
        self.logger = logger
        status.awaitWarmStart()
        status.startStale("not connected to NATS yet")
    }

    var name: String { "nats" }
    var acceptsPublishers: Bool { false }

    func run() async throws {
        client.onEvent = { [self] event in handle(event) }
        client.onReadComplete = { [self] in publishBatch() }
        _ = client.subscribe(TickSubjects.everySymbol) { [self] message in received(message) }
        _ = client.subscribe(TickSubjects.everyBook) { [self] message in received(message) }
        _ = client.subscribe(TickSubjects.everyInstrument) { [self] message in received(message) }
        SnapshotResponder.serve(on: client) { [self] in warm ? (publisher.epoch, lastTicks) : nil }
        logger.info(
            "NATS feed connecting", metadata: ["servers": "\(client.configuration.servers.joined(separator: ","))"])
        _ = client.connect()  // keeps trying until it connects; `handle` hears of it
        try? await gracefulShutdown()
        try? await client.close().get()
    }

    // MARK: On the publisher's loop

    private func handle(_ event: NATSClient.Event) {
        switch event {
        case .connected(let server):
            logger.info("NATS feed connected", metadata: ["server": "\(server)"])
            status.upstreamRestored()
            requestSnapshot()
        case let .disconnected(server, reason):
            status.upstreamLost("NATS \(server): \(reason)")
        case let .reconnecting(server, delay):
            logger.debug(
                "NATS feed reconnecting",
                metadata: ["server": "\(server)", "in_ms": "\(delay.nanoseconds / 1_000_000)"])
        case .error(let text):
            // Among these, the server's "Slow Consumer" warning: it dropped messages for this hub.
            logger.warning("NATS feed error", metadata: ["error": "\(text)"])
        case .closed:
            break
        }
    }

    private func received(_ message: NATSMessage) {
        do {
            let (epoch, batch) = try TickMessages.decode(message, known: adopted)
            accept(batch, epoch: epoch)
        } catch {
            reject("\(error)", subject: message.subject)
        }
    }

    private func accept(_ records: FeedBatch, epoch: FeedEpoch) {
        if let adopted, epoch != adopted {
            guard epoch.isNewer(than: adopted) else {
                publisher.counters.upstreamStale.wrappingIncrement(by: UInt64(records.count), ordering: .relaxed)
                return
            }
            publishBatch()  // the old numbering's ticks go first
            begin(epoch, restarted: true)
        } else if adopted == nil {
            begin(epoch, restarted: false)
        }
        let directory = publisher.directory
        for tick in records.ticks {
            guard let id = directory.register(tick.symbol) else {
                reject("the symbol table is full", subject: TickSubjects.subject(of: tick.symbol))
                continue
            }
            batch.append(
                FeedUpdate(
                    symbolID: id, symbol: tick.symbol, timestamp: tick.timestamp, body: tick.body, upstreamSeq: tick.seq
                ))
            lastTicks.record(tick)
        }
        var details: [(SymbolID, InstrumentRecord)] = []
        for instrument in records.instruments {
            guard let id = directory.register(instrument.symbol) else {
                reject("the symbol table is full", subject: TickSubjects.instrumentSubject(of: instrument.symbol))
                continue
            }
            details.append((id, instrument))
            lastTicks.record(instrument)
        }
        publisher.publishDetails(details)
        for book in records.books {
            guard let id = directory.register(book.symbol) else {
                reject("the symbol table is full", subject: TickSubjects.bookSubject(of: book.symbol))
                continue
            }
            bookBatch.append(
                BookFeedUpdate(
                    symbolID: id, symbol: book.symbol, timestamp: book.timestamp, change: book.change,
                    replacesBook: book.replacesBook, upstreamSeq: book.seq))
            // The hub's own book follows the same rule (`PublisherBooks`): out of step here is out of step there.
            lastTicks.record(book)
            if lastTicks.bookSeq(of: book.symbol) == nil { booksOutOfStep = true }
        }
    }

    /// Adopts the publisher's numbering. At the first message, this hub's own (start-up) epoch gives
    /// way; after that, a new epoch means the publisher restarted.
    private func begin(_ epoch: FeedEpoch, restarted: Bool) {
        adopted = epoch
        publisher.beginEpoch(epoch)
        lastTicks.removeAll()
        logger.info("NATS feed epoch", metadata: ["epoch": "\(epoch)", "restarted": "\(restarted)"])
        guard restarted else { return }
        status.numberingRestarted(epoch)
        // The values were forgotten with the old numbering: warm up again from the new publisher.
        warm = false
        status.awaitWarmStart()
        requestSnapshot()
    }

    private func publishBatch() {
        if !batch.isEmpty || !bookBatch.isEmpty {
            publisher.publishOnLoop(batch, books: bookBatch)
            batch.removeAll(keepingCapacity: true)
            bookBatch.removeAll(keepingCapacity: true)
        }
        if booksOutOfStep, warm, !bookRequestPending {
            // Mend the books out of step with whole ones; at most one request at a time, a second apart.
            bookRequestPending = true
            publisher.eventLoop.scheduleTask(in: Self.snapshotRetry) { [self] in
                bookRequestPending = false
                if booksOutOfStep, client.isConnected { requestSnapshot() }
            }
        }
    }

    private func requestSnapshot() {
        client.request(TickSubjects.snapshotRequest, payload: ByteBuffer(), timeout: Self.snapshotTimeout).whenComplete
        { [self] result in
            switch result {
            case .success(let answer):
                do {
                    let (epoch, answered) = try TickMessages.decode(answer)
                    if let adopted, epoch != adopted, !epoch.isNewer(than: adopted) {
                        // A peer still on the old numbering answered first: ask again.
                        return retrySnapshot(because: "answer from an older epoch")
                    }
                    publishBatch()
                    // Only what the live stream has not brought already (not counted as stale): ticks
                    // above the seqs held, and whole books for books out of step or older.
                    let sameEpoch = epoch == adopted
                    booksOutOfStep = false
                    accept(
                        FeedBatch(
                            ticks: answered.ticks.filter { !sameEpoch || $0.seq > lastTicks.latestSeq(of: $0.symbol) },
                            books: answered.books.filter { book in
                                guard sameEpoch, let held = lastTicks.bookSeq(of: book.symbol) else { return true }
                                return held < book.seq
                            }, instruments: answered.instruments), epoch: epoch)
                    publishBatch()
                    warm = true
                    status.becameWarm(symbols: lastTicks.symbolCount)
                } catch {
                    reject("snapshot answer: \(error)", subject: answer.subject)
                    retrySnapshot(because: "bad answer")
                }
            case .failure(let error):
                retrySnapshot(because: "\(error)")
            }
        }
    }

    private func retrySnapshot(because reason: String) {
        guard !warm else { return }  // a reconnect's refresh: the live stream will do
        logger.debug("NATS feed warm-start retry", metadata: ["reason": "\(reason)"])
        publisher.eventLoop.scheduleTask(in: Self.snapshotRetry) { [self] in
            if !warm, client.isConnected { requestSnapshot() }
        }
    }

    private func reject(_ reason: String, subject: String) {
        status.rejectedMessages.wrappingIncrement(ordering: .relaxed)
        rejected += 1
        // The first, then one in 1,000: a broken publisher must not flood the log.
        if rejected % 1000 == 1 {
            logger.warning(
                "NATS feed message refused",
                metadata: ["subject": "\(subject.prefix(80))", "reason": "\(reason)", "refused": "\(rejected)"])
        }
    }
}
