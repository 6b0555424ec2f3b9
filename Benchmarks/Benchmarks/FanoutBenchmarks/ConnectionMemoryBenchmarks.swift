import Benchmark
import EpollTransport
import Foundation
import NIOCore
import NIOPosix
import NIOWebSocket

#if canImport(Glibc)
import Glibc
#endif

// What the transport keeps per connection (issue 25): the resident memory added by 2,000 open
// connections, per connection, through NIO (a channel with the hub's upgraded pipeline shape: the
// raw frame writer, NIO's frame encoder and decoder, the message assembler and the session, the last
// three stood in for by empty handlers, since each handler's cost is its context) and through the
// owned transport (a `SlotTable` slot with a `SocketOutput`, what a connection costs there besides
// the session), after each client has sent one small request. The engine's per-subscriber state is
// the same on both and not included.

let bytesPerConnection = BenchmarkMetric.custom(
    "bytes per connection", polarity: .prefersSmaller, useScalingFactor: false)

func residentBytes() -> Int {
    guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
    let fields = text.split(separator: " ")
    return (Int(fields[1]) ?? 0) * Int(sysconf(Int32(_SC_PAGESIZE)))
}

final class StandIn: ChannelDuplexHandler, @unchecked Sendable {
    typealias InboundIn = NIOAny
    typealias OutboundIn = NIOAny
}

/// The owned transport's slot as the hub will hold it, minus the session.
struct OwnedSlot {
    var descriptor: CInt
    var output = SocketOutput()
    var unread: ByteBuffer?
}

func connectionMemoryBenchmarks() {
    let connections = smoke ? 200 : 2000
    // One iteration: a second would find the pages the first freed and show less than a fresh heap.
    let configuration = Benchmark.Configuration(
        metrics: [bytesPerConnection], scalingFactor: .one,
        maxDuration: .seconds(10), maxIterations: 1)

    Benchmark("Connection memory: NIO channel, upgraded pipeline shape", configuration: configuration) { benchmark in
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        for _ in benchmark.scaledIterations {
            let pairs = LoopbackPairs(count: connections)
            let before = residentBytes()
            var channels: [any Channel] = []
            for fd in pairs.served {
                channels.append(
                    try ClientBootstrap(group: group)
                        .channelOption(
                            .recvAllocator,
                            value: AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 256, maximum: 65536)
                        )
                        .channelInitializer { channel in
                            channel.eventLoop.makeCompletedFuture {
                                let sync = channel.pipeline.syncOperations
                                try sync.addHandler(FrontWriter())
                                try sync.addHandler(WebSocketFrameEncoder())
                                try sync.addHandler(ByteToMessageHandler(WebSocketFrameDecoder(maxFrameSize: 65536)))
                                try sync.addHandler(StandIn())
                                try sync.addHandler(StandIn())
                            }
                        }
                        .withConnectedSocket(fd).wait())
            }
            // Each client sends a request, as a subscriber does: NIO reads it into a buffer of the
            // channel's own, and the decoder keeps what it has not yet passed on.
            let request: [UInt8] = [0x81, 0x84, 1, 2, 3, 4, 0x7a, 0x70, 0x6f, 0x6e]
            for peer in pairs.peers { _ = send(peer, request, request.count, 0) }
            usleep(300_000)
            benchmark.measurement(bytesPerConnection, (residentBytes() - before) / connections)
            for channel in channels { try channel.close().wait() }
            for peer in pairs.peers { close(peer) }
        }
        try group.syncShutdownGracefully()
    }

    Benchmark("Connection memory: owned slot", configuration: configuration) { benchmark in
        for _ in benchmark.scaledIterations {
            let pairs = LoopbackPairs(count: connections)
            let before = residentBytes()
            var table = SlotTable<OwnedSlot>()
            for fd in pairs.served { _ = table.insert(OwnedSlot(descriptor: fd)) }
            benchmark.measurement(bytesPerConnection, (residentBytes() - before) / connections)
            withExtendedLifetime(table) {}
            pairs.closeAll()
        }
    }
}
