import FeedModel
import NIOCore
import Synchronization

/// The ring's single writer: it sequences updates (or keeps a numbering source's seqs, forwarding
/// its gaps and dropping what is stale), records them in the last-value cache, encodes
/// each one **once** into a complete WebSocket frame, appends it to the broadcast ring, and wakes
/// each loop's consumer once per batch (per slice of a large one).
///
/// Threading: confined to `eventLoop`. Feed sources hand it batches with `publish(_:)` from any
/// thread; the batch hops to the loop once. A consumer on that same loop is drained in the same
/// task, right after the batch is in the ring (no wake-up, no extra poll); the others are woken.
public final class TickPublisher: @unchecked Sendable {
    // @unchecked: all mutable state is confined to `eventLoop`.

    public let eventLoop: any EventLoop
    public let directory: SymbolDirectory
    public let lastValues: LastValueCache
    public let counters: FanoutCounters
    private let transmitter: BroadcastTransmitter
    /// Consumers on other loops (and, in tests, on this one), woken after each batch.
    private var consumers: [LoopFanout] = []
    /// Consumers on this loop, drained right after each batch.
    private var inlineConsumers: [LoopFanout] = []
    /// The last seq issued on every stream.
    var numbering = StreamNumbering()
    /// The numbering the seqs belong to (`welcome`, snapshots): this hub's own, new at every start,
    /// until a numbering feed names its publisher's (`beginEpoch`). Read from any thread.
    private let currentEpoch: Mutex<FeedEpoch>
    /// Each symbol's whole order book, for the book streams' updates.
    var books = PublisherBooks()
    /// Each symbol's bars, built from its trades; read by `GET /v1/candles` too.
    public let candles: CandleStore
    /// Closes bars on time when no trade follows them; started at the first trade.
    var candleClock: RepeatedTask?
    /// Whether anyone takes the `quotes` or `trades` streams (nil: nobody ever does).
    let demand: ChannelDemand?
    /// Each symbol's `quotes` and `trades` stream ids, by the symbol's index (from the directory, once).
    var channelStreams: [[SymbolID]?] = []
    /// Observers of every sequenced tick (a hub that publishes its feed on NATS), on the loop.
    private var taps: [([Tick]) -> Void] = []
    var bookTaps: [([BookRecord]) -> Void] = []
    var detailTaps: [([InstrumentRecord]) -> Void] = []
    /// Builds each message's frame and compressed variants once, for the ring.
    private var encoder: RecordEncoder
    /// Updates published between two wakes of the consumers. A tick's record is a few hundred bytes
    /// (its plain frame and any compressed variants), so a slice is about an eighth of the ring: a
    /// large ingest batch (up to 65,535 ticks, ~10 MB) cannot lap every reader before any of them
    /// has run, and the last-value cache's lock is held for one slice at a time. (Readers on this
    /// loop drain after each slice; those on other loops run meanwhile.)
    let updatesPerWake: Int
    /// Book levels (of the changes) published between two wakes of the consumers.
    let levelsPerWake: Int

    public init(
        eventLoop: any EventLoop, buffer: BroadcastBuffer, directory: SymbolDirectory,
        lastValues: LastValueCache, counters: FanoutCounters, compression: SharedCompression = SharedCompression(),
        candles: CandleStore = CandleStore(), demand: ChannelDemand? = nil
    ) {
        self.candles = candles
        self.demand = demand
        self.encoder = RecordEncoder(compression: compression)
        self.eventLoop = eventLoop
        self.transmitter = BroadcastTransmitter(buffer: buffer)
        self.updatesPerWake = max(1, buffer.capacity / 8 / 512)
        // A level costs ~25 bytes in each depth's record that shows it, and as much again in the
        // compressed variants: ~64 bytes, counted once per level of the change.
        self.levelsPerWake = max(1, buffer.capacity / 8 / 64 / OrderBook.depths.count)
        self.directory = directory
        self.lastValues = lastValues
        self.counters = counters
        currentEpoch = Mutex(FeedEpoch.starting(at: .now()))
    }

    public var epoch: FeedEpoch { currentEpoch.withLock { $0 } }

    /// Starts the numbering `epoch` (on the loop): a numbering feed's publisher restarted, so its
    /// seqs start again. Every symbol's last seq and the last-value cache (values and history) are
    /// forgotten, since their seqs belong to the old numbering: the new epoch's updates rebuild them.
    /// Subscribers of the old numbering must be re-based by the caller (the hub closes them, and
    /// they come back to the new epoch's snapshots).
    public func beginEpoch(_ epoch: FeedEpoch) {
        eventLoop.assertInEventLoop()
        currentEpoch.withLock { $0 = epoch }
        numbering.removeAll()
        books.removeAll()
        candles.removeAll()
        lastValues.removeAll()
    }

    /// Calls `tap` on the loop with every batch's ticks once sequenced (in the ring's order).
    public func addTap(_ tap: @escaping ([Tick]) -> Void) {
        eventLoop.execute { self.taps.append(tap) }
    }

    /// Calls `tap` on the loop with the instrument details the feed sets (`publishDetails`).
    public func addDetailTap(_ tap: @escaping ([InstrumentRecord]) -> Void) {
        eventLoop.execute { self.detailTaps.append(tap) }
    }

    /// Calls `tap` on the loop with every batch's book changes once applied, numbered per symbol
    /// (the publisher's seqs, or this hub's count), whole books marked: what a hub that publishes
    /// its feed passes on.
    public func addBookTap(_ tap: @escaping ([BookRecord]) -> Void) {
        eventLoop.execute { self.bookTaps.append(tap) }
    }

    /// Registers the consumers to wake. Call before the first publish. With `drainingInline` (the
    /// default), a consumer on the publisher's own loop is drained in the publishing task instead of
    /// being signalled.
    public func attach(_ consumers: [LoopFanout], drainingInline: Bool = true) {
        eventLoop.execute {
            for consumer in consumers {
                if drainingInline && consumer.eventLoop === self.eventLoop {
                    self.inlineConsumers.append(consumer)
                } else {
                    self.consumers.append(consumer)
                }
            }
        }
    }

    /// Publishes a batch from any thread.
    public func publish(_ updates: [FeedUpdate], books: [BookFeedUpdate] = []) {
        if eventLoop.inEventLoop {
            publishOnLoop(updates, books: books)
        } else {
            eventLoop.execute { self.publishOnLoop(updates, books: books) }
        }
    }

    /// Publishes a batch from any thread; the future completes (on the publisher's loop) once the
    /// batch is in the ring. Ingest uses it for flow control.
    public func submit(_ updates: [FeedUpdate], books: [BookFeedUpdate] = []) -> EventLoopFuture<Void> {
        eventLoop.submit { self.publishOnLoop(updates, books: books) }
    }

    /// Sequences, caches, encodes and transmits `updates`, then the book changes `books`, waking
    /// every consumer once per slice of `updatesPerWake` (once for a feed's usual batch). A book
    /// change can give a record per depth, so book slices are a third as long.
    public func publishOnLoop(_ updates: [FeedUpdate], books: [BookFeedUpdate] = []) {
        eventLoop.assertInEventLoop()
        var start = updates.startIndex
        while start < updates.endIndex {
            let end = min(start + updatesPerWake, updates.endIndex)
            publishSlice(updates[start..<end])
            // The books go out with the last slice of ticks: one wake for a feed's usual batch.
            if end < updates.endIndex || books.isEmpty { wakeConsumers() }
            start = end
        }
        start = books.startIndex
        while start < books.endIndex {
            // A book change can be a whole book (100 levels a side, and a record per depth), so
            // slices are cut by levels, not by changes, to stay near an eighth of the ring too.
            var end = start, levels = 0
            while end < books.endIndex && (end == start || levels < levelsPerWake) {
                levels += books[end].change.bids.count + books[end].change.asks.count
                end += 1
            }
            publishBookSlice(books[start..<end])
            wakeConsumers()
            start = end
        }
    }

    func wakeConsumers() {
        for consumer in consumers { consumer.wake() }
        for consumer in inlineConsumers { consumer.drainSignalled() }
    }

    private func publishSlice(_ updates: ArraySlice<FeedUpdate>) {
        var sequenced: [(SymbolID, Tick)] = []
        sequenced.reserveCapacity(updates.count)
        // No overflow: each gap is below 2^53 (`StreamNumbering`), a slice's sum below 2^53 × `updatesPerWake`.
        var gaps: UInt64 = 0, stale: UInt64 = 0, refused: UInt64 = 0
        for update in updates {
            let seq: UInt64
            if let upstream = update.upstreamSeq {
                switch numbering.accept(upstream: upstream, for: update.symbolID) {
                case .accepted(let gap): gaps += gap
                case .stale:
                    stale += 1
                    continue
                case .refused:
                    refused += 1
                    continue
                }
                seq = upstream
            } else {
                seq = numbering.next(update.symbolID)
            }
            sequenced.append(
                (update.symbolID, Tick(symbol: update.symbol, seq: seq, timestamp: update.timestamp, body: update.body))
            )
        }
        if gaps > 0 { counters.upstreamGaps.wrappingIncrement(by: gaps, ordering: .relaxed) }
        if stale > 0 { counters.upstreamStale.wrappingIncrement(by: stale, ordering: .relaxed) }
        if refused > 0 { counters.upstreamRefused.wrappingIncrement(by: refused, ordering: .relaxed) }
        guard !sequenced.isEmpty else { return }
        if !taps.isEmpty {
            let ticks = sequenced.map(\.1)
            for tap in taps { tap(ticks) }
        }
        // Each tick again on its own channel's stream (`quotes` or `trades`), numbered there.
        let channelTicks = demand == nil ? [] : channelTicks(of: sequenced)
        // Cache first, ring second: see `LastValueCache` for why this order makes snapshots gap-free.
        lastValues.apply(sequenced + channelTicks)
        let candleChanges = candles.add(sequenced, directory: directory)
        if !candleChanges.isEmpty {
            lastValues.applyCandles(candleChanges.map { ($0.stream, $0.latest) })
            startCandleClock()
        }
        // One clock read per batch: consumers measure their lag from it (`DrainLimits.maxLag`).
        let publishedAt = eventLoop.now.uptimeNanoseconds
        for (id, tick) in sequenced {
            transmit(.update(tick), RecordHeader(symbolID: id.rawValue, seq: tick.seq, publishedAt: publishedAt))
        }
        // Asked after the cache was written: see `ChannelDemand`.
        let (wantsQuotes, wantsTrades) = (demand?.wants(.quotes) ?? false, demand?.wants(.trades) ?? false)
        var channelFrames: UInt64 = 0
        for (id, tick) in channelTicks {
            let isQuote = { if case .quote = tick.body { true } else { false } }()
            guard isQuote ? wantsQuotes : wantsTrades else { continue }
            transmit(.update(tick), RecordHeader(symbolID: id.rawValue, seq: tick.seq, publishedAt: publishedAt))
            channelFrames += 1
        }
        counters.framesEncoded.wrappingIncrement(by: channelFrames, ordering: .relaxed)
        transmitCandles(candleChanges, publishedAt: publishedAt)
        counters.ticksIn.wrappingIncrement(by: UInt64(sequenced.count), ordering: .relaxed)
        counters.framesEncoded.wrappingIncrement(by: UInt64(sequenced.count), ordering: .relaxed)
        publishCompressionTally()
        counters.lastBatchAtNanos.store(Timestamp.now().nanosecondsSinceEpoch, ordering: .relaxed)
    }

    /// Appends `message` to the ring, encoded with the compressed variants some subscriber takes
    /// (`RecordEncoder`).
    func transmit(_ message: ServerMessage, _ header: RecordHeader) {
        if let payload = encoder.payload(of: message, maxPayloadLength: transmitter.buffer.maxPayloadLength) {
            transmitter.transmit(header, payload: payload)
        } else {
            // Too big for one record: an empty record stands for it, and every loop sends the
            // stream's latest value from the cache in its place, as for a record that came too
            // late. A publisher cannot trap the hub.
            counters.oversizeRecords.wrappingIncrement(ordering: .relaxed)
            transmitter.transmit(header, payload: ByteBuffer())
        }
    }

    /// Adds the batch's compression figures to the counters (`RecordEncoder`).
    func publishCompressionTally() {
        encoder.publishTally(to: counters)
    }
}
