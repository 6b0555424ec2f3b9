import Benchmark
import FanoutEngine
import FeedModel
import Foundation
import NIOCore
import NIOEmbedded

/// `TICKERHUB_BENCH_SMOKE=1` (CI) runs every benchmark for a few iterations, so none can rot;
/// the timings of such a run mean nothing and nothing is compared against them.
let smoke = ProcessInfo.processInfo.environment["TICKERHUB_BENCH_SMOKE"] == "1"

/// A sink that only counts: measures the hub's user-space cost per delivery, without syscalls.
final class CountingSink: FrameSink {
    var writes = 0
    var flushes = 0
    func attach(_ subscriber: Subscriber) {}
    func write(_ frames: ByteBuffer) { writes += 1 }
    func flush() { flushes += 1 }
    var connectionIsWritable: Bool { true }
}

/// A sink over a real NIO pipeline (an `EmbeddedChannel`), as the server's frame sink is: every
/// write and flush travels the channel pipeline; `DiscardWrites` at the end stands in for the socket.
final class ChannelSink: FrameSink {
    let channel: EmbeddedChannel
    init(loop: EmbeddedEventLoop) throws {
        channel = EmbeddedChannel(loop: loop)
        try channel.pipeline.syncOperations.addHandler(DiscardWrites())
    }
    func attach(_ subscriber: Subscriber) {}
    func write(_ frames: ByteBuffer) { channel.write(frames, promise: nil) }
    func flush() { channel.flush() }
    var connectionIsWritable: Bool { channel.isWritable }
}

/// Completes every write without keeping it, so the benchmark's memory stays flat.
final class DiscardWrites: ChannelOutboundHandler {
    typealias OutboundIn = ByteBuffer
    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        promise?.succeed()
    }
    func flush(context: ChannelHandlerContext) {}
}

func sampleTicks(_ count: Int) -> [Tick] {
    var simulator = MarketSimulator(instruments: SymbolUniverse.instruments(count: 500, seed: 1), seed: 1)
    return (0..<count).map { index in
        let event = simulator.next()
        return Tick(
            symbol: simulator.instruments[event.instrumentIndex].symbol, seq: UInt64(index + 1),
            timestamp: .now(), body: event.body)
    }
}

/// Complete text frames for simulated ticks, as the publisher puts them in the ring.
func sampleFrames(_ count: Int) -> [ByteBuffer] {
    sampleTicks(count).map { tick in
        var buffer = ByteBufferAllocator().buffer(capacity: 256)
        WebSocketFrameBuilder.build(.text, into: &buffer) { ServerMessage.update(tick).writeJSON(into: &$0) }
        return buffer
    }
}

/// The hub's engine (`BroadcastEngine`) with its one consumer on an `EmbeddedEventLoop`: the whole
/// in-process fan-out path. The engine's parts read as the pipeline's own (`pipeline.publisher`).
@dynamicMemberLookup
struct Pipeline {
    let loop = EmbeddedEventLoop()
    let engine: BroadcastEngine
    subscript<Part>(dynamicMember part: KeyPath<BroadcastEngine, Part>) -> Part { engine[keyPath: part] }
    /// The loop's one consumer (stored: a benchmark's loop reads it every iteration).
    let fanout: LoopFanout

    /// `historyDepth`: updates kept per symbol for recovery (`--history`). `demandDriven`: channel,
    /// book and bar frames built only while someone follows their kind, as in the hub.
    init(historyDepth: Int = 0, demandDriven: Bool = false) {
        var configuration = EngineConfiguration()
        configuration.historyDepth = historyDepth
        engine = BroadcastEngine(
            configuration: configuration, loops: [loop], publisherLoop: loop, demandDriven: demandDriven)
        fanout = engine.fanouts[0]
    }

    func quote(_ id: SymbolID, _ symbol: Symbol) -> FeedUpdate {
        FeedUpdate(
            symbolID: id, symbol: symbol, timestamp: .now(),
            body: .quote(Quote(bid: Price("189.12")!, ask: Price("189.13")!, bidSize: 100, askSize: 200)))
    }
}

/// A pipeline and its batches, made by a benchmark's first sample and kept for the others (each
/// sample runs the benchmark's closure again). Samples run one after another on one thread.
final class PreparedPipeline: @unchecked Sendable {
    private var value: (Pipeline, [[FeedUpdate]])?

    func get(_ make: () -> (Pipeline, [[FeedUpdate]])) -> (Pipeline, [[FeedUpdate]]) {
        if let value { return value }
        let made = make()
        value = made
        return made
    }
}

/// Moves `records` 150-byte records from one writer thread through the ring to `readers` reader
/// threads; returns records per second (each reader sees every record).
func ringThroughput(readers: Int, records: UInt64) -> Int {
    let ring = BroadcastBuffer(capacity: 4 << 20)
    let group = DispatchGroup()
    for _ in 0..<readers {
        group.enter()
        Thread {
            var receiver = BroadcastReceiver(buffer: ring)
            let allocator = ByteBufferAllocator()
            var lastSeq: UInt64 = 0
            while lastSeq < records {
                switch receiver.receiveNext(allocator: allocator, wantsPayload: { _ in true }) {
                case .record(let header, _): lastSeq = header.seq
                case .lapped: lastSeq = records  // cannot happen unless a reader stalls a whole lap
                case .empty: break
                }
            }
            group.leave()
        }.start()
    }
    let transmitter = BroadcastTransmitter(buffer: ring)
    let payload = ByteBuffer(bytes: [UInt8](repeating: 7, count: 150))
    let start = ContinuousClock.now
    for seq in 1...records {
        transmitter.transmit(RecordHeader(symbolID: 1, seq: seq), payload: payload)
    }
    group.wait()
    let seconds =
        Double((ContinuousClock.now - start).components.attoseconds) / 1e18
        + Double((ContinuousClock.now - start).components.seconds)
    return Int(Double(records) / seconds)
}

let recordsPerSecond = BenchmarkMetric.custom("records/s", polarity: .prefersLarger, useScalingFactor: false)
let nanosPerDelivery = BenchmarkMetric.custom("ns per delivery", polarity: .prefersSmaller, useScalingFactor: false)
let nanosPerRemoval = BenchmarkMetric.custom("ns per removal", polarity: .prefersSmaller, useScalingFactor: false)

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration =
        smoke
        ? .init(metrics: [.wallClock], maxDuration: .milliseconds(200), maxIterations: 3)
        : .init(metrics: [.wallClock, .throughput, .mallocCountTotal], maxDuration: .seconds(3))

    socketWriteBenchmarks()
    connectionMemoryBenchmarks()
    bookBenchmarks()

    // One JSON tick frame (~150 bytes), as the publisher builds it once per tick.
    Benchmark("Encode tick frame (JSON + WebSocket header)", configuration: .init(scalingFactor: .kilo)) { benchmark in
        let ticks = sampleTicks(1000)
        var buffer = ByteBufferAllocator().buffer(capacity: 1024)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            for tick in ticks {
                WebSocketFrameBuilder.build(.text, into: &buffer) { ServerMessage.update(tick).writeJSON(into: &$0) }
                blackHole(buffer.readableBytes)
            }
        }
    }

    Benchmark("Parse subscribe request (10 symbols)", configuration: .init(scalingFactor: .kilo)) { benchmark in
        let request = Array(
            #"{"op":"subscribe","id":1,"symbols":["AAPL","MSFT","NVDA","AMZN","GOOGL","META","TSLA","SPY","QQQ","IWM"]}"#
                .utf8)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(ClientMessage.parse(request))
        }
    }

    // MARK: Compression, once per tick for everyone (shared)

    Benchmark("Deflate one tick frame (shared, no context takeover)", configuration: .init(scalingFactor: .kilo)) {
        benchmark in
        let frames = sampleFrames(1000)
        let deflater = try MessageDeflater(contextTakeover: false)
        let allocator = ByteBufferAllocator()
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            for frame in frames { blackHole(try deflater.compressedFrame(of: frame, allocator: allocator)) }
        }
    }

    Benchmark("zstd one tick frame (shared dictionary)", configuration: .init(scalingFactor: .kilo)) { benchmark in
        let frames = sampleFrames(1000)
        let training = sampleTicks(5000).map { tick -> [UInt8] in
            var buffer = ByteBuffer()
            ServerMessage.update(tick).writeJSON(into: &buffer)
            return Array(buffer.readableBytesView)
        }
        let compressor = ZstdMessageCompressor(dictionary: try ZstdDictionary(trainingOn: training))
        let allocator = ByteBufferAllocator()
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            for frame in frames { blackHole(compressor.compressedFrame(of: frame, allocator: allocator)) }
        }
    }

    // MARK: The broadcast ring

    Benchmark("Ring transmit 150-byte records", configuration: .init(scalingFactor: .mega)) { benchmark in
        let ring = BroadcastBuffer(capacity: 8 << 20)
        let transmitter = BroadcastTransmitter(buffer: ring)
        let payload = ByteBuffer(bytes: [UInt8](repeating: 7, count: 150))
        benchmark.startMeasurement()
        for index in benchmark.scaledIterations {
            transmitter.transmit(RecordHeader(symbolID: 1, seq: UInt64(index)), payload: payload)
        }
    }

    Benchmark("Ring transmit + receive (copy out) 150-byte records", configuration: .init(scalingFactor: .mega)) {
        benchmark in
        let ring = BroadcastBuffer(capacity: 8 << 20)
        let transmitter = BroadcastTransmitter(buffer: ring)
        var receiver = BroadcastReceiver(buffer: ring)
        let allocator = ByteBufferAllocator()
        let payload = ByteBuffer(bytes: [UInt8](repeating: 7, count: 150))
        benchmark.startMeasurement()
        for index in benchmark.scaledIterations {
            transmitter.transmit(RecordHeader(symbolID: 1, seq: UInt64(index)), payload: payload)
            blackHole(receiver.receiveNext(allocator: allocator) { _ in true })
        }
    }

    // Writer and readers on their own threads, 150-byte records through a 4 MiB ring.
    for readers in [1, 2] {
        Benchmark(
            "Ring 1 writer -> \(readers) reader thread\(readers == 1 ? "" : "s")",
            configuration: .init(metrics: [.wallClock, recordsPerSecond], scalingFactor: .one)
        ) { benchmark in
            for _ in benchmark.scaledIterations {
                benchmark.measurement(
                    recordsPerSecond, ringThroughput(readers: readers, records: smoke ? 100_000 : 2_000_000))
            }
        }
    }

    // MARK: Subscriptions

    // Subscribe one more client to 10 symbols and unsubscribe it again, next to 5,000 others.
    Benchmark(
        "Subscribe + unsubscribe 10 symbols (5,000 subscribers on the loop)", configuration: .init(scalingFactor: .kilo)
    ) { benchmark in
        let pipeline = Pipeline()
        let symbols = (0..<500).map { Symbol(stringLiteral: "S\($0)") }
        let ids = symbols.map { pipeline.directory.register($0)! }
        for client in 0..<5000 {
            let mine = (0..<10).map { (client * 7 + $0 * 13) % 500 }
            _ = pipeline.fanout.subscribe(
                Subscriber(sink: CountingSink()), to: mine.map { ids[$0] }, symbols: mine.map { symbols[$0] })
        }
        let subscriber = Subscriber(sink: CountingSink())
        let mineIDs = Array(ids[0..<10]), mineSymbols = Array(symbols[0..<10])
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(pipeline.fanout.subscribe(subscriber, to: mineIDs, symbols: mineSymbols))
            blackHole(pipeline.fanout.unsubscribe(subscriber, from: mineIDs))
        }
    }

    // A connection closing while it owes 1,000 symbols' latest values (a stalled dashboard with a
    // full watchlist). Forgetting each stale symbol was a linear search of the stale list: O(n²).
    Benchmark(
        "Remove a subscriber owing 1,000 stale symbols",
        configuration: .init(metrics: [.wallClock, nanosPerRemoval], scalingFactor: .one)
    ) { benchmark in
        let pipeline = Pipeline()
        let symbols = (0..<1000).map { Symbol("S\($0)")! }
        let ids = symbols.map { pipeline.directory.register($0)! }
        // Updates arrive in another order than the symbols were subscribed (here: reversed), as
        // activity rarely follows a watchlist's order; removal walks the subscriptions in theirs.
        let updates = zip(ids, symbols).map { pipeline.quote($0, $1) }.reversed().map { $0 }
        pipeline.loop.run()  // attaches the consumer to the publisher
        for _ in benchmark.scaledIterations {
            let subscriber = Subscriber(sink: CountingSink())
            _ = pipeline.fanout.subscribe(subscriber, to: ids, symbols: symbols)
            subscriber.isWritable = false
            pipeline.publisher.publishOnLoop(updates)
            pipeline.loop.run()
            precondition(subscriber.staleCount == 1000)
            let start = ContinuousClock.now
            pipeline.fanout.remove(subscriber)
            let elapsed = ContinuousClock.now - start
            precondition(subscriber.staleCount == 0)
            benchmark.measurement(
                nanosPerRemoval,
                Int(elapsed.components.attoseconds / 1_000_000_000) + Int(elapsed.components.seconds) * 1_000_000_000)
        }
    }

    Benchmark(
        "Look up a symbol's subscribers (5,000 subscribers on the loop)", configuration: .init(scalingFactor: .mega)
    ) { benchmark in
        let pipeline = Pipeline()
        let ids = (0..<500).map { pipeline.directory.register(Symbol(stringLiteral: "S\($0)"))! }
        for client in 0..<5000 {
            let mine = (0..<10).map { ids[(client * 7 + $0 * 13) % 500] }
            _ = pipeline.fanout.subscribe(Subscriber(sink: CountingSink()), to: mine, symbols: mine.map { _ in "S0" })
        }
        benchmark.startMeasurement()
        for index in benchmark.scaledIterations {
            blackHole(pipeline.fanout.subscriberCount(of: ids[index % 500]))
        }
    }

    // MARK: Fan-out

    // The whole user-space fan-out path for one tick to 1,000 subscribers on one loop:
    // sequence, cache, encode once, ring, drain, 1,000 writes of the same buffer, 1,000 flushes.
    Benchmark(
        "Publish 1 tick, fan out to 1,000 subscribers (counting sinks)", configuration: .init(scalingFactor: .kilo)
    ) { benchmark in
        let pipeline = Pipeline()
        let aapl = pipeline.directory.register("AAPL")!
        for _ in 0..<1000 {
            _ = pipeline.fanout.subscribe(Subscriber(sink: CountingSink()), to: [aapl], symbols: ["AAPL"])
        }
        pipeline.loop.run()
        let update = pipeline.quote(aapl, "AAPL")
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            pipeline.publisher.publishOnLoop([update])
            pipeline.loop.run()
        }
        benchmark.stopMeasurement()
        precondition(pipeline.counters.snapshot().deliveries >= 1000)
    }

    // MARK: Recovery (`--history`)

    // What keeping a history costs the publisher: a batch of 100 ticks over 500 symbols, sequenced,
    // cached (and, with history, appended to each symbol's ring), encoded and put in the ring, with
    // no subscriber. Compare the two: the difference is the history's cost per tick. As in the hub,
    // each tick is numbered and cached (and kept) on its `quotes` or `trades` stream too, whose
    // frames nobody asks for here (`ChannelDemand`).
    for depth in [0, 1000] {
        // Made once, on the first sample: filling 1,000 updates per symbol takes a second, and the
        // closure runs once per sample.
        let prepared = PreparedPipeline()
        Benchmark("Publish 100 ticks over 500 symbols, history \(depth)", configuration: .init(scalingFactor: .kilo)) {
            benchmark in
            let (pipeline, batches) = prepared.get {
                let pipeline = Pipeline(historyDepth: depth, demandDriven: true)
                let ids = (0..<500).map { pipeline.directory.register(Symbol("S\($0)")!)! }
                let batches = (0..<10).map { round in
                    (0..<100).map { n in
                        pipeline.quote(ids[(round * 100 + n * 7) % 500], Symbol("S\((round * 100 + n * 7) % 500)")!)
                    }
                }
                // Every history at its depth, so its ring overwrites, as in steady state.
                for _ in 0..<(depth / 2 + 1) { for batch in batches { pipeline.publisher.publishOnLoop(batch) } }
                pipeline.loop.run()
                return (pipeline, batches)
            }
            benchmark.startMeasurement()
            for iteration in benchmark.scaledIterations {
                pipeline.publisher.publishOnLoop(batches[iteration % batches.count])
            }
            benchmark.stopMeasurement()
        }
    }

    // A reconnecting client's subscribe to 10 symbols, each 100 updates behind: the 1,000 missed
    // updates read from the history under the cache's lock, plus the subscription itself.
    Benchmark("Recover 10 symbols x 100 missed updates (history 1000)", configuration: .init(scalingFactor: .kilo)) {
        benchmark in
        let pipeline = Pipeline(historyDepth: 1000)
        let symbols = (0..<10).map { Symbol("S\($0)")! }
        let ids = symbols.map { pipeline.directory.register($0)! }
        for _ in 0..<200 { pipeline.publisher.publishOnLoop(zip(ids, symbols).map { pipeline.quote($0, $1) }) }
        pipeline.loop.run()
        let since = [UInt64?](repeating: 100, count: 10)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            let subscriber = Subscriber(sink: CountingSink())
            let starts = pipeline.fanout.subscribe(
                subscriber, to: ids, symbols: symbols, updateInterval: nil, resumingAfter: since, replayLimit: 2000)
            precondition(starts.allSatisfy { $0.replay?.count == 100 })
            pipeline.fanout.remove(subscriber)
        }
        benchmark.stopMeasurement()
    }

    // maxFrequency: 1,000 subscribers × 10 symbols, each with a 1 ms interval; one round publishes a
    // tick of every symbol (held) and moves the clock to the boundary, where every subscriber gets
    // its 10 latest values in one write and one flush. Against the live path above, this is the user-space cost of
    // holding and releasing; what it saves is 9 of every 10 socket writes.
    Benchmark(
        "maxFrequency: hold 10 symbols x 1,000 subscribers, release at a boundary",
        configuration: .init(metrics: [.wallClock, nanosPerDelivery], scalingFactor: .one)
    ) { benchmark in
        let pipeline = Pipeline()
        let symbols = (0..<10).map { Symbol("S\($0)")! }
        let ids = symbols.map { pipeline.directory.register($0)! }
        let sinks = (0..<1000).map { _ in CountingSink() }
        for sink in sinks {
            _ = pipeline.fanout.subscribe(
                Subscriber(sink: sink), to: ids, symbols: symbols, updateInterval: UpdateInterval(milliseconds: 1))
        }
        pipeline.loop.run()
        let updates = zip(ids, symbols).map { pipeline.quote($0, $1) }
        let rounds = smoke ? 2 : 20
        for _ in benchmark.scaledIterations {
            let before = pipeline.counters.snapshot().deliveries
            let start = ContinuousClock.now
            for _ in 0..<rounds {
                pipeline.publisher.publishOnLoop(updates)
                pipeline.loop.run()
                pipeline.loop.advanceTime(by: .milliseconds(1))
            }
            let elapsed = ContinuousClock.now - start
            let delivered = pipeline.counters.snapshot().deliveries - before
            precondition(
                delivered == UInt64(rounds * 10 * sinks.count), "every subscriber gets every symbol's latest value")
            let nanos = Double(elapsed.components.seconds) * 1e9 + Double(elapsed.components.attoseconds) / 1e9
            benchmark.measurement(nanosPerDelivery, Int(nanos / Double(delivered)))
        }
        // A boundary's 10 values are corked into one write (`CorkedFrames`), then flushed once.
        precondition(
            sinks.allSatisfy { $0.writes > 0 && $0.flushes == $0.writes },
            "one write and one flush per subscriber per boundary")
    }

    // The same through N real NIO pipelines (EmbeddedChannel): write + flush travel each channel's
    // pipeline as they do in the server, minus the syscall. Reported per delivery.
    for subscribers in [100, 1000, 5000] {
        Benchmark(
            "Fan out 1 tick to \(subscribers) EmbeddedChannels",
            configuration: .init(metrics: [.wallClock, nanosPerDelivery], scalingFactor: .one)
        ) { benchmark in
            let pipeline = Pipeline()
            let aapl = pipeline.directory.register("AAPL")!
            let sinks = try (0..<subscribers).map { _ in try ChannelSink(loop: pipeline.loop) }
            for sink in sinks { _ = pipeline.fanout.subscribe(Subscriber(sink: sink), to: [aapl], symbols: ["AAPL"]) }
            pipeline.loop.run()
            let update = pipeline.quote(aapl, "AAPL")
            let rounds = smoke ? 2 : 50
            for _ in benchmark.scaledIterations {
                let before = pipeline.counters.snapshot().deliveries
                let start = ContinuousClock.now
                for _ in 0..<rounds {
                    pipeline.publisher.publishOnLoop([update])
                    pipeline.loop.run()
                }
                let elapsed = ContinuousClock.now - start
                let delivered = pipeline.counters.snapshot().deliveries - before
                precondition(delivered == UInt64(rounds * subscribers), "every subscriber gets every tick")
                let nanos = Double(elapsed.components.seconds) * 1e9 + Double(elapsed.components.attoseconds) / 1e9
                benchmark.measurement(nanosPerDelivery, Int(nanos / Double(delivered)))
            }
            for sink in sinks { _ = try? sink.channel.finish() }
        }
    }
}
