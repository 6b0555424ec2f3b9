import FeedModel
import NIOCore
import Synchronization

extension ServerMessage: ServerMessageWriting {}

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
    /// Next seq per symbol id, minus one (i.e. the last seq issued).
    var lastSeq: [UInt64] = []
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
    /// Reused for every frame: the ring copies the bytes, so one scratch buffer serves all ticks.
    var scratch = ByteBufferAllocator().buffer(capacity: 1024)
    private var record = ByteBufferAllocator().buffer(capacity: 2048)
    private let compression: SharedCompression
    /// Compresses each tick once for every shared-deflate subscriber; made on first demand.
    private var deflater: MessageDeflater?
    private var zstdCompressor: ZstdMessageCompressor?
    private let allocator = ByteBufferAllocator()
    /// Updates published between two wakes of the consumers. A tick's record is a few hundred bytes
    /// (its plain frame and any compressed variants), so a slice is about an eighth of the ring: a
    /// large ingest batch (up to 65,535 ticks, ~10 MB) cannot lap every reader before any of them
    /// has run, and the last-value cache's lock is held for one slice at a time. (Readers on this
    /// loop drain after each slice; those on other loops run meanwhile.)
    let updatesPerWake: Int
    /// Book levels (of the changes) published between two wakes of the consumers.
    let levelsPerWake: Int

    public init(eventLoop: any EventLoop, buffer: BroadcastBuffer, directory: SymbolDirectory,
                lastValues: LastValueCache, counters: FanoutCounters, compression: SharedCompression = SharedCompression(),
                candles: CandleStore = CandleStore(), demand: ChannelDemand? = nil) {
        self.candles = candles
        self.demand = demand
        self.compression = compression
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
        for index in lastSeq.indices { lastSeq[index] = 0 }
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
        // No overflow here, whatever a publisher sends: an upstream seq is at most `Tick.maxSeq`
        // (2^53 - 1; larger ones are refused), so each gap is below 2^53, a slice's sum of gaps
        // below 2^53 × `updatesPerWake`, and the hub's own numbering (+1 per update) starts at most
        // there and would need 2^63 updates to reach `UInt64.max`.
        var gaps: UInt64 = 0, stale: UInt64 = 0, refused: UInt64 = 0
        for update in updates {
            let index = update.symbolID.index
            if index >= lastSeq.count {
                lastSeq.append(contentsOf: repeatElement(0, count: index + 1 - lastSeq.count))
            }
            let seq: UInt64
            if let upstream = update.upstreamSeq {
                guard upstream <= Tick.maxSeq else {
                    refused += 1
                    continue
                }
                guard upstream > lastSeq[index] else {
                    stale += 1
                    continue
                }
                // The first update of a symbol is where this hub joined the stream, not a gap.
                if lastSeq[index] > 0 { gaps += upstream - lastSeq[index] - 1 }
                seq = upstream
            } else {
                seq = lastSeq[index] + 1
            }
            lastSeq[index] = seq
            sequenced.append((update.symbolID, Tick(symbol: update.symbol, seq: seq, timestamp: update.timestamp, body: update.body)))
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
        prepareCompressors()
        // One clock read per batch: consumers measure their lag from it (`DrainLimits.maxLag`).
        let publishedAt = eventLoop.now.uptimeNanoseconds
        var tally = CompressionTally()
        for (id, tick) in sequenced {
            WebSocketFrameBuilder.build(.text, into: &scratch) { ServerMessage.update(tick).writeJSON(into: &$0) }
            transmitScratch(RecordHeader(symbolID: id.rawValue, seq: tick.seq, publishedAt: publishedAt), tally: &tally)
        }
        // Asked after the cache was written: see `ChannelDemand`.
        let (wantsQuotes, wantsTrades) = (demand?.wants(.quotes) ?? false, demand?.wants(.trades) ?? false)
        var channelFrames: UInt64 = 0
        for (id, tick) in channelTicks {
            let isQuote = { if case .quote = tick.body { true } else { false } }()
            guard isQuote ? wantsQuotes : wantsTrades else { continue }
            WebSocketFrameBuilder.build(.text, into: &scratch) { ServerMessage.update(tick).writeJSON(into: &$0) }
            transmitScratch(RecordHeader(symbolID: id.rawValue, seq: tick.seq, publishedAt: publishedAt), tally: &tally)
            channelFrames += 1
        }
        counters.framesEncoded.wrappingIncrement(by: channelFrames, ordering: .relaxed)
        transmitCandles(candleChanges, publishedAt: publishedAt, tally: &tally)
        counters.ticksIn.wrappingIncrement(by: UInt64(sequenced.count), ordering: .relaxed)
        counters.framesEncoded.wrappingIncrement(by: UInt64(sequenced.count), ordering: .relaxed)
        tally.publish(to: counters)
        counters.lastBatchAtNanos.store(Timestamp.now().nanosecondsSinceEpoch, ordering: .relaxed)
    }

    /// Makes the shared compressors some subscriber now takes.
    func prepareCompressors() {
        if compression.wantsSharedDeflate, deflater == nil { deflater = try? MessageDeflater(contextTakeover: false) }
        if compression.wantsZstd, zstdCompressor == nil, let dictionary = compression.zstdDictionary {
            zstdCompressor = ZstdMessageCompressor(dictionary: dictionary)
        }
    }

    /// The compressed frames built for one batch, added to the counters once.
    struct CompressionTally {
        var deflatedFrames: UInt64 = 0, deflatedBytes: UInt64 = 0
        var zstdFrames: UInt64 = 0, zstdBytes: UInt64 = 0

        func publish(to counters: FanoutCounters) {
            if zstdFrames > 0 {
                counters.framesZstd.wrappingIncrement(by: zstdFrames, ordering: .relaxed)
                counters.zstdBytes.wrappingIncrement(by: zstdBytes, ordering: .relaxed)
            }
            if deflatedFrames > 0 {
                counters.framesDeflated.wrappingIncrement(by: deflatedFrames, ordering: .relaxed)
                counters.deflatedBytes.wrappingIncrement(by: deflatedBytes, ordering: .relaxed)
            }
        }
    }

    /// Appends the frame in `scratch` to the ring, with the compressed variants some subscriber
    /// takes, each built once here for all of them.
    func transmitScratch(_ header: RecordHeader, tally: inout CompressionTally) {
        var deflated = FrameVariants.SharedDeflate.notBuilt
        if compression.wantsSharedDeflate {
            if let frame = compression.worthwhileDeflate(of: scratch, deflater: { deflater }, allocator: allocator) {
                deflated = .compressed(frame)
                tally.deflatedFrames += 1
                tally.deflatedBytes += UInt64(frame.readableBytes)
            } else {
                deflated = .notWorthCompressing
            }
        }
        var zstd: ByteBuffer?
        if compression.wantsZstd {
            zstd = zstdCompressor?.compressedFrame(of: scratch, allocator: allocator)
            if let zstd {
                tally.zstdFrames += 1
                tally.zstdBytes += UInt64(zstd.readableBytes)
            }
        }
        FrameVariants.write(plain: scratch, deflate: deflated, zstd: zstd, into: &record)
        if record.readableBytes > transmitter.buffer.maxPayloadLength {
            // Too big for one record (a deep book replaced whole, with a small ring): an empty
            // record stands for it, and every loop sends the stream's latest value from the cache
            // in its place, as for a record that came too late. A publisher cannot trap the hub.
            record.clear()
            counters.oversizeRecords.wrappingIncrement(ordering: .relaxed)
        }
        transmitter.transmit(header, payload: record)
    }
}
