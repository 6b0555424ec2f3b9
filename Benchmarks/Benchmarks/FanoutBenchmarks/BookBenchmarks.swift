import Benchmark
import CHeapUsage
import FanoutEngine
import FeedModel
import Foundation
import NIOCore

// What order books and bars cost (issue 26): a book change through the whole publisher and fan-out
// at depth 10 (numbered, applied to the publisher's book, encoded once with its checksum, cached,
// put in the ring, drained to 1,000 subscribers) beside a quote through the same path; and the
// memory a symbol's book and its bars at full history take (heap bytes in use: resident memory would
// hide allocations that reuse pages an earlier benchmark freed).

let bytesPerDelivery = BenchmarkMetric.custom(
    "bytes per delivery", polarity: .prefersSmaller, useScalingFactor: false)
let depthMessagesPerMille = BenchmarkMetric.custom(
    "depth-10 messages per 1,000 changes", polarity: .prefersLarger, useScalingFactor: false)
let bookBytesPerSymbol = BenchmarkMetric.custom(
    "book bytes per symbol", polarity: .prefersSmaller, useScalingFactor: false)
let barBytesPerSymbol = BenchmarkMetric.custom(
    "bar bytes per symbol (300 per interval)", polarity: .prefersSmaller, useScalingFactor: false)

/// Counts what it is given: deliveries are counted by the engine, bytes here.
final class ByteCountingSink: FrameSink {
    var bytes = 0
    func attach(_ subscriber: Subscriber) {}
    func write(_ frames: ByteBuffer) { bytes += frames.readableBytes }
    func flush() {}
    var connectionIsWritable: Bool { true }
}

/// A simulated market's book changes for one symbol: its opening book, then `count` changes.
func sampleBookChanges(_ count: Int) -> (opening: BookDelta, changes: [BookDelta]) {
    var simulator = MarketSimulator(
        instruments: SymbolUniverse.instruments(named: ["AAPL"], seed: 3), seed: 3)
    var changes: [BookDelta] = []
    changes.reserveCapacity(count)
    while changes.count < count {
        let event = simulator.next()
        if !event.bookChange.isEmpty { changes.append(event.bookChange) }
    }
    return (simulator.openingBooks[0], changes)
}

func bookBenchmarks() {
    let prepared = sampleBookChanges(smoke ? 1_000 : 200_000)

    // Cost per book change fed (µs per iteration), the share of changes that reach the top 10 levels
    // (the rest change levels below them: no depth-10 message), and bytes per delivery. With no
    // subscriber it is the publisher's side alone: number, apply to the whole book, encode each
    // depth's message with its checksum, cache, put in the ring.
    // Without a subscriber, also as the hub runs it: frames only for the depths someone follows
    // (none here), the books numbered and cached all the same.
    for (subscribers, demandDriven) in [(0, false), (0, true), (1000, false)] {
        let name =
            subscribers > 0
            ? "Publish 1 book change, fan out depth 10 to 1,000 subscribers (counting sinks)"
            : demandDriven
                ? "Publish 1 book change, no subscriber, frames on demand (as the hub)"
                : "Publish 1 book change at every depth, no subscriber"
        Benchmark(
            name,
            configuration: .init(
                metrics: [.wallClock, .cpuTotal] + (subscribers == 0 ? [] : [bytesPerDelivery, depthMessagesPerMille]),
                scalingFactor: .kilo)
        ) { benchmark in
            let pipeline = Pipeline(demandDriven: demandDriven)
            let aapl = pipeline.directory.register("AAPL")!
            let stream = pipeline.directory.bookStream(of: aapl, depth: 10)!
            pipeline.publisher.publishOnLoop(
                [],
                books: [
                    BookFeedUpdate(
                        symbolID: aapl, symbol: "AAPL", timestamp: .now(),
                        change: prepared.opening, replacesBook: true)
                ])
            let sinks = (0..<subscribers).map { _ in ByteCountingSink() }
            for sink in sinks {
                _ = pipeline.fanout.subscribe(
                    Subscriber(sink: sink), to: [stream], symbols: ["AAPL"], updateInterval: nil,
                    resumingAfter: [nil], replayLimit: 0)
            }
            pipeline.loop.run()
            let bytesBefore = sinks.reduce(0) { $0 + $1.bytes }
            let deliveriesBefore = pipeline.counters.snapshot().deliveries
            var next = 0
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                // Past the prepared changes the walk starts over on the book it left: still valid level sets.
                let change = prepared.changes[next]
                next = next + 1 == prepared.changes.count ? 0 : next + 1
                pipeline.publisher.publishOnLoop(
                    [],
                    books: [BookFeedUpdate(symbolID: aapl, symbol: "AAPL", timestamp: .now(), change: change)]
                )
                pipeline.loop.run()
            }
            benchmark.stopMeasurement()
            let deliveries = Int(pipeline.counters.snapshot().deliveries - deliveriesBefore)
            let bytes = sinks.reduce(0) { $0 + $1.bytes } - bytesBefore
            if subscribers > 0 {
                precondition(deliveries > 0)
                benchmark.measurement(bytesPerDelivery, bytes / deliveries)
                benchmark.measurement(
                    depthMessagesPerMille, deliveries / subscribers * 1000 / benchmark.scaledIterations.count)
            }
        }
    }

    // What 1,000 symbols' books (the publisher's whole book, ~40 levels a side, and the cached
    // snapshot at each depth) and bars (300 closed and the open one, at each of the 4 intervals, in
    // the store and the cache) add to the heap, per symbol. One iteration: a fresh heap.
    Benchmark(
        "Memory: a symbol's book and its bars at full history (1,000 symbols)",
        configuration: .init(
            metrics: [bookBytesPerSymbol, barBytesPerSymbol], scalingFactor: .one,
            maxDuration: .seconds(60), maxIterations: 1)
    ) { benchmark in
        let symbolCount = smoke ? 50 : 1000
        let barsKept = 300
        for _ in benchmark.scaledIterations {
            let pipeline = Pipeline()
            let simulator = MarketSimulator(
                instruments: SymbolUniverse.instruments(count: symbolCount, seed: 5), seed: 5)
            let symbols = simulator.instruments.map(\.symbol)
            let ids = symbols.map { pipeline.directory.register($0)! }
            // Every symbol quoted once, so the baseline holds what a symbol costs without books or bars.
            pipeline.publisher.publishOnLoop(zip(ids, symbols).map { pipeline.quote($0, $1) })
            pipeline.loop.run()
            let before = heap_bytes_in_use()
            pipeline.publisher.publishOnLoop(
                [],
                books: zip(zip(ids, symbols), simulator.openingBooks).map { symbol, book in
                    BookFeedUpdate(
                        symbolID: symbol.0, symbol: symbol.1, timestamp: .now(), change: book,
                        replacesBook: true)
                })
            pipeline.loop.run()
            let withBooks = heap_bytes_in_use()
            // A trade an hour apart closes a bar at every interval: 301 trades leave 300 closed bars and an open one.
            let hour: UInt64 = 3_600_000_000_000
            let start = Timestamp.now().nanosecondsSinceEpoch / hour * hour - UInt64(barsKept + 1) * hour
            for step in 0...UInt64(barsKept) {
                let trades = zip(ids, symbols).map { id, symbol in
                    FeedUpdate(
                        symbolID: id, symbol: symbol,
                        timestamp: Timestamp(nanosecondsSinceEpoch: start + step * hour),
                        body: .trade(Trade(price: Price("100.00")!, size: 100)))
                }
                pipeline.publisher.publishOnLoop(trades)
                pipeline.loop.run()
            }
            let withBars = heap_bytes_in_use()
            benchmark.measurement(bookBytesPerSymbol, (withBooks - before) / symbolCount)
            benchmark.measurement(barBytesPerSymbol, (withBars - withBooks) / symbolCount)
            withExtendedLifetime(simulator) {}
        }
    }
}
