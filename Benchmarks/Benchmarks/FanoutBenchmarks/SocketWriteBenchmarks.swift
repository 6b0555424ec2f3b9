import Benchmark
import EpollTransport
import FanoutEngine
import Foundation
import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

// The cost of one socket write per frame (issue 25): the path from a ready frame to the kernel,
// through a NIO channel as the hub writes today, and through the owned transport's `SocketOutput`
// (`send` straight from the shared frame), over the same real loopback TCP connections. The other
// ends are drained between rounds, outside the measurement. Reported per write: the process's CPU
// (both threads: NIO writes on its loop) and the wall time.

let cpuNanosPerWrite = BenchmarkMetric.custom("CPU ns per write", polarity: .prefersSmaller, useScalingFactor: false)
let wallNanosPerWrite = BenchmarkMetric.custom("wall ns per write", polarity: .prefersSmaller, useScalingFactor: false)

/// N connected loopback TCP pairs: `served` are the server's ends (written), `peers` the clients'.
final class LoopbackPairs {
    private(set) var served: [CInt] = []
    private(set) var peers: [CInt] = []

    init(count: Int) {
        let listener = socket(AF_INET, CInt(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { generic in
                precondition(bind(listener, generic, length) == 0 && listen(listener, 4096) == 0, "listen")
                precondition(getsockname(listener, generic, &length) == 0, "getsockname")
            }
        }
        for _ in 0..<count {
            let peer = socket(AF_INET, CInt(SOCK_STREAM.rawValue), 0)
            let connected = withUnsafePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(peer, $0, length) }
            }
            precondition(connected == 0, "connect: \(errno)")
            let served = accept(listener, nil, nil)
            precondition(served >= 0, "accept: \(errno)")
            var one: CInt = 1
            setsockopt(served, CInt(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<CInt>.size))
            _ = fcntl(served, F_SETFL, fcntl(served, F_GETFL) | O_NONBLOCK)
            _ = fcntl(peer, F_SETFL, fcntl(peer, F_GETFL) | O_NONBLOCK)
            self.served.append(served)
            peers.append(peer)
        }
        close(listener)
    }

    /// Reads everything the peers have been sent; returns the bytes read.
    @discardableResult
    func drainPeers() -> Int {
        var total = 0
        var scratch = [UInt8](repeating: 0, count: 1 << 16)
        for peer in peers {
            while true {
                let got = scratch.withUnsafeMutableBytes { recv(peer, $0.baseAddress, $0.count, CInt(MSG_DONTWAIT)) }
                if got <= 0 { break }
                total += got
            }
        }
        return total
    }

    func closeAll() {
        for fd in served + peers { close(fd) }
        served = []
        peers = []
    }
}

/// The hub's write path today: a handler next to the channel's head (as `RawFrameWriter` is), one
/// write and one flush per subscriber.
final class FrontWriter: ChannelOutboundHandler, @unchecked Sendable {
    typealias OutboundIn = ByteBuffer
    var context: ChannelHandlerContext?
    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func writeAndFlush(_ frame: ByteBuffer) {
        context?.write(NIOAny(frame), promise: nil)
        context?.flush()
    }
}

func processCPUNanos() -> Int {
    var now = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now)
    return now.tv_sec * 1_000_000_000 + now.tv_nsec
}

func wallNanos() -> Int {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return now.tv_sec * 1_000_000_000 + now.tv_nsec
}

/// One frame of `framesPerWrite` ticks, as `CorkedFrames` would hand it to a sink.
func corkedFrame(framesPerWrite: Int) -> ByteBuffer {
    var frame = ByteBufferAllocator().buffer(capacity: 1024)
    for var part in sampleFrames(framesPerWrite) { frame.writeBuffer(&part) }
    return frame
}

/// Writes to `writesPerRound` of the connections per round, walking through all of them so that
/// with more connections than that each round finds them cold, as a busy loop does.
func measureWrites(_ benchmark: Benchmark, pairs: LoopbackPairs, writesPerRound: Int, round: (Range<Int>) -> Void) {
    var next = 0
    let count = pairs.served.count
    for _ in benchmark.scaledIterations {
        var cpu = 0
        var wall = 0
        var writes = 0
        for _ in 0..<(smoke ? 1 : 20) {
            let range = next..<min(next + writesPerRound, count)
            next = range.upperBound == count ? 0 : range.upperBound
            let cpuStart = processCPUNanos()
            let wallStart = wallNanos()
            round(range)
            wall += wallNanos() - wallStart
            cpu += processCPUNanos() - cpuStart
            writes += range.count
            pairs.drainPeers()
        }
        benchmark.measurement(cpuNanosPerWrite, cpu / writes)
        benchmark.measurement(wallNanosPerWrite, wall / writes)
    }
}

func socketWriteBenchmarks() {
    let configuration = Benchmark.Configuration(
        metrics: [cpuNanosPerWrite, wallNanosPerWrite], scalingFactor: .one,
        maxDuration: .seconds(smoke ? 1 : 4), maxIterations: smoke ? 2 : 200)
    for (connections, framesPerWrite) in [(1000, 1), (5000, 1), (1000, 4)] {
        let shape =
            "\(connections.formatted()) sockets, \(framesPerWrite) frame\(framesPerWrite == 1 ? "" : "s") per write"

        Benchmark("Socket write: NIO channel (\(shape))", configuration: configuration) { benchmark in
            let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
            let loop = group.next()
            let pairs = LoopbackPairs(count: connections)
            let writers = try pairs.served.map { fd in
                let writer = FrontWriter()
                _ = try ClientBootstrap(group: loop)
                    .channelInitializer { channel in
                        channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(writer) }
                    }
                    .withConnectedSocket(fd).wait()
                return writer
            }
            let frame = corkedFrame(framesPerWrite: framesPerWrite)
            measureWrites(benchmark, pairs: pairs, writesPerRound: 1000) { range in
                try! loop.submit { for index in range { writers[index].writeAndFlush(frame) } }.wait()
            }
            // The channels own the served descriptors: closing them closes those.
            try loop.submit { for writer in writers { writer.context?.close(promise: nil) } }.wait()
            for peer in pairs.peers { close(peer) }
            try group.syncShutdownGracefully()
        }

        Benchmark("Socket write: owned send (\(shape))", configuration: configuration) { benchmark in
            let pairs = LoopbackPairs(count: connections)
            var outputs = [SocketOutput](repeating: SocketOutput(), count: connections)
            let frame = corkedFrame(framesPerWrite: framesPerWrite)
            measureWrites(benchmark, pairs: pairs, writesPerRound: 1000) { range in
                for index in range {
                    precondition(
                        outputs[index].write(frame, to: pairs.served[index]) == .drained,
                        "the peer drains between rounds")
                }
            }
            pairs.closeAll()
        }

        Benchmark("Socket write: bare send (\(shape))", configuration: configuration) { benchmark in
            let pairs = LoopbackPairs(count: connections)
            let frame = corkedFrame(framesPerWrite: framesPerWrite)
            let bytes = Array(frame.readableBytesView)
            measureWrites(benchmark, pairs: pairs, writesPerRound: 1000) { range in
                bytes.withUnsafeBytes { pointer in
                    for index in range {
                        _ = send(
                            pairs.served[index], pointer.baseAddress, pointer.count, CInt(MSG_NOSIGNAL | MSG_DONTWAIT))
                    }
                }
            }
            pairs.closeAll()
        }
    }
}
