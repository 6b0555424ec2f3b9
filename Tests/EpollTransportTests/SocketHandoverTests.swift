import EpollTransport
import Glibc
import NIOCore
import NIOPosix
import Testing

@Suite struct SocketHandoverTests {
    /// `descriptor` adopted into a NIO channel, as the hub's listener will, with the handover first.
    func adopt(_ descriptor: CInt, on group: MultiThreadedEventLoopGroup) throws -> (any Channel, SocketHandover) {
        let handover = SocketHandover(descriptor: descriptor)
        let channel = try ClientBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(handover) }
            }
            .withConnectedSocket(descriptor).wait()
        return (channel, handover)
    }

    /// The way the hub will hand a subscriber over: NIO serves the socket first (it writes and reads),
    /// then the descriptor leaves the channel. The client notices nothing: no FIN, no reset; the
    /// bytes it sent that NIO read come along; and the same connection goes on through the duplicate.
    @Test func aSocketLeavesNIOWithoutEndingTheConnection() throws {
        let pair = LoopbackPair()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let (channel, handover) = try adopt(pair.served, on: group)

        // NIO's part: a response written and flushed (as the 101 would be).
        try channel.writeAndFlush(ByteBuffer(string: "from NIO;")).wait()
        // The client's first message, right behind: NIO reads it.
        send(pair.peer, "early", 5, 0)
        var fromNIO: [UInt8] = []
        for _ in 0..<10_000 where fromNIO.count < 9 {
            fromNIO += pair.readPeer()
            usleep(1000)
        }
        #expect(String(decoding: fromNIO, as: UTF8.self) == "from NIO;")

        let handed = try channel.eventLoop.submit {
            try channel.pipeline.syncOperations.context(handler: handover)
        }.flatMapThrowing { context in
            handover.takeOver(context: context)
        }.wait()
        let socket = try #require(handed)
        defer { close(socket.descriptor) }
        try channel.closeFuture.wait()
        // Whatever part of "early" NIO had read comes along; the rest is still in the socket.
        var early = socket.unread.map { Array($0.readableBytesView) } ?? []
        for _ in 0..<10_000 where early.count < 5 {
            var scratch = [UInt8](repeating: 0, count: 16)
            let count = scratch.withUnsafeMutableBytes {
                recv(socket.descriptor, $0.baseAddress, 5 - early.count, CInt(MSG_DONTWAIT))
            }
            if count > 0 { early += scratch[0..<count] } else { usleep(1000) }
        }
        #expect(String(decoding: early, as: UTF8.self) == "early")

        // The client sees no end of stream: nothing to read, and the connection still open.
        var probe: UInt8 = 0
        let got = recv(pair.peer, &probe, 1, CInt(MSG_DONTWAIT))
        #expect(got == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))

        // The same connection, both ways, through the duplicate.
        var output = SocketOutput()
        #expect(output.write(ByteBuffer(string: "from the owned transport"), to: socket.descriptor) == .drained)
        var received: [UInt8] = []
        for _ in 0..<10_000 where received.count < 24 {
            received += pair.readPeer()
            usleep(1000)
        }
        #expect(String(decoding: received, as: UTF8.self) == "from the owned transport")
        send(pair.peer, "later", 5, 0)
        var buffer = [UInt8](repeating: 0, count: 16)
        var count = 0
        for _ in 0..<10_000 where count <= 0 {
            count = buffer.withUnsafeMutableBytes { recv(socket.descriptor, $0.baseAddress, 16, CInt(MSG_DONTWAIT)) }
            if count <= 0 { usleep(1000) }
        }
        #expect(String(decoding: buffer[0..<max(count, 0)], as: UTF8.self) == "later")
        close(pair.peer)
    }

    /// A peer that left before the handover: nothing to hand over, and no descriptor leaks.
    @Test func aClosedChannelHandsNothingOver() throws {
        let pair = LoopbackPair()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let (channel, handover) = try adopt(pair.served, on: group)
        let context = try channel.eventLoop.submit { try channel.pipeline.syncOperations.context(handler: handover) }
            .wait()
        close(pair.peer)
        try channel.closeFuture.wait()  // NIO saw the end of stream and closed
        let handed = try channel.eventLoop.submit { handover.takeOver(context: context) }.wait()
        #expect(handed == nil)
    }
}
