import Benchmark
import FanoutEngine
import FeedModel
import Foundation
import NIOCore
import NIOEmbedded

/// A sink that only counts: measures the hub's user-space cost per delivery, without syscalls.
final class CountingSink: FrameSink {
    var isWritable = true
    var writes = 0
    var flushes = 0
    func write(_ frame: ByteBuffer) { writes += 1 }
    func flush() { flushes += 1 }
}

func sampleTicks(_ count: Int) -> [Tick] {
    var simulator = MarketSimulator(instruments: SymbolUniverse.instruments(count: 500, seed: 1), seed: 1)
    return (0..<count).map { index in
        let event = simulator.next()
        return Tick(symbol: simulator.instruments[event.instrumentIndex].symbol, seq: UInt64(index + 1),
                    timestamp: .now(), body: event.body)
    }
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(metrics: [.wallClock, .throughput, .mallocCountTotal], maxDuration: .seconds(3))

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

    Benchmark("Ring transmit 150-byte records", configuration: .init(scalingFactor: .mega)) { benchmark in
        let ring = BroadcastBuffer(capacity: 8 << 20)
        let transmitter = BroadcastTransmitter(buffer: ring)
        let payload = ByteBuffer(bytes: [UInt8](repeating: 7, count: 150))
        benchmark.startMeasurement()
        for index in benchmark.scaledIterations {
            transmitter.transmit(RecordHeader(symbolID: 1, kind: 1, seq: UInt64(index)), payload: payload)
        }
    }

    Benchmark("Ring transmit + receive (copy out) 150-byte records", configuration: .init(scalingFactor: .mega)) { benchmark in
        let ring = BroadcastBuffer(capacity: 8 << 20)
        let transmitter = BroadcastTransmitter(buffer: ring)
        var receiver = BroadcastReceiver(buffer: ring)
        let allocator = ByteBufferAllocator()
        let payload = ByteBuffer(bytes: [UInt8](repeating: 7, count: 150))
        benchmark.startMeasurement()
        for index in benchmark.scaledIterations {
            transmitter.transmit(RecordHeader(symbolID: 1, kind: 1, seq: UInt64(index)), payload: payload)
            blackHole(receiver.receiveNext(allocator: allocator) { _ in true })
        }
    }

    // One writer thread, two reader threads, 1M records of 150 bytes through a 4 MiB ring.
    Benchmark("Ring 1 writer + 2 reader threads, 1M records", configuration: .init(metrics: [.wallClock, .throughput], scalingFactor: .one)) { benchmark in
        for _ in benchmark.scaledIterations {
            let ring = BroadcastBuffer(capacity: 4 << 20)
            let total: UInt64 = 1_000_000
            let group = DispatchGroup()
            for _ in 0..<2 {
                group.enter()
                Thread {
                    var receiver = BroadcastReceiver(buffer: ring)
                    let allocator = ByteBufferAllocator()
                    var lastSeq: UInt64 = 0
                    while lastSeq < total {
                        if case .record(let header, _) = receiver.receiveNext(allocator: allocator, wantsPayload: { _ in true }) {
                            lastSeq = header.seq
                        }
                    }
                    group.leave()
                }.start()
            }
            let transmitter = BroadcastTransmitter(buffer: ring)
            let payload = ByteBuffer(bytes: [UInt8](repeating: 7, count: 150))
            for seq in 1...total {
                transmitter.transmit(RecordHeader(symbolID: 1, kind: 1, seq: seq), payload: payload)
            }
            group.wait()
        }
    }

    // The whole user-space fan-out path for one tick to 1,000 subscribers on one loop:
    // sequence, cache, encode once, ring, drain, 1,000 writes of the same buffer, 1,000 flushes.
    Benchmark("Publish 1 tick, fan out to 1,000 subscribers (no syscalls)", configuration: .init(scalingFactor: .kilo)) { benchmark in
        let loop = EmbeddedEventLoop()
        let directory = SymbolDirectory()
        let lastValues = LastValueCache()
        let counters = FanoutCounters()
        let ring = BroadcastBuffer(capacity: 8 << 20)
        let publisher = TickPublisher(eventLoop: loop, buffer: ring, directory: directory, lastValues: lastValues, counters: counters)
        let fanout = LoopFanout(eventLoop: loop, buffer: ring, lastValues: lastValues, counters: counters)
        publisher.attach([fanout])
        let aapl = directory.register("AAPL")!
        for _ in 0..<1000 { _ = fanout.subscribe(Subscriber(sink: CountingSink()), to: [aapl], symbols: ["AAPL"]) }
        loop.run()
        let update = FeedUpdate(symbolID: aapl, symbol: "AAPL", timestamp: .now(),
                                body: .quote(Quote(bid: Price("189.12")!, ask: Price("189.13")!, bidSize: 100, askSize: 200)))
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            publisher.publishOnLoop([update])
            loop.run()
        }
        benchmark.stopMeasurement()
        precondition(counters.snapshot().deliveries >= 1000)
    }

    Benchmark("Parse subscribe request (10 symbols)", configuration: .init(scalingFactor: .kilo)) { benchmark in
        let request = Array(#"{"op":"subscribe","id":1,"symbols":["AAPL","MSFT","NVDA","AMZN","GOOGL","META","TSLA","SPY","QQQ","IWM"]}"#.utf8)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(ClientMessage.parse(request))
        }
    }
}
