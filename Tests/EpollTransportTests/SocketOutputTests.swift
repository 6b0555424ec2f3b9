import EpollTransport
import Glibc
import NIOCore
import Testing

@Suite struct SocketOutputTests {
    func buffer(_ count: Int, seed: UInt8) -> ByteBuffer {
        ByteBuffer(bytes: (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ Int(seed)) })
    }

    @Test func aWriteTheSocketTakesWholeLeavesNothingOwed() {
        let pair = LoopbackPair()
        defer { pair.closeBoth() }
        var output = SocketOutput()
        let frame = buffer(150, seed: 1)
        #expect(output.write(frame, to: pair.served) == .drained)
        #expect(output.isEmpty && output.byteCount == 0)
        #expect(pair.readPeer() == Array(frame.readableBytesView))
    }

    /// A client with a tiny receive buffer: writes block part-way, the rest waits, and once the peer
    /// reads, the bytes arrive complete and in order, across many partial writes and many buffers.
    @Test func partialWritesKeepEveryByteInOrder() {
        let pair = LoopbackPair(peerReceiveBuffer: 2048, servedSendBuffer: 4096)
        defer { pair.closeBoth() }
        var output = SocketOutput()
        var expected: [UInt8] = []
        var received: [UInt8] = []
        var blocked = 0
        for index in 0..<400 {
            let frame = buffer(100 + index % 300, seed: UInt8(truncatingIfNeeded: index))
            expected += frame.readableBytesView
            if output.write(frame, to: pair.served) == .blocked { blocked += 1 }
            if index % 50 == 49 { received += pair.readPeer() }
        }
        #expect(blocked > 0, "the small buffers must make some writes partial")
        #expect(output.byteCount > 0)
        var rounds = 0
        while !output.isEmpty && rounds < 10_000 {
            received += pair.readPeer()
            #expect(output.write(to: pair.served) != .failed(errno: EPIPE))
            rounds += 1
        }
        for _ in 0..<10_000 where received.count < expected.count {
            received += pair.readPeer()
            usleep(1000)
        }
        #expect(output.isEmpty)
        #expect(received == expected)
    }

    /// More buffers than one `sendmsg` takes go out over several calls, in order.
    @Test func moreBuffersThanOneCallTakesAllArrive() {
        let pair = LoopbackPair()
        defer { pair.closeBoth() }
        var output = SocketOutput()
        var expected: [UInt8] = []
        for index in 0..<(SocketOutput.maxIovecs * 3 + 5) {
            let frame = buffer(20, seed: UInt8(truncatingIfNeeded: index))
            expected += frame.readableBytesView
            output.append(frame)
        }
        #expect(output.write(to: pair.served) == .drained)
        var received: [UInt8] = []
        for _ in 0..<10_000 where received.count < expected.count {
            received += pair.readPeer()
            usleep(1000)
        }
        #expect(received == expected)
    }

    /// A peer that resets the connection: the next writes fail with the connection's error, and
    /// nothing traps or signals (MSG_NOSIGNAL: no SIGPIPE).
    @Test func aResetInTheMiddleOfAWriteFailsTheWrite() {
        let pair = LoopbackPair(peerReceiveBuffer: 2048, servedSendBuffer: 4096)
        defer { close(pair.served) }
        var output = SocketOutput()
        while output.write(buffer(1000, seed: 3), to: pair.served) == .drained {}
        #expect(output.byteCount > 0)
        pair.resetPeer()
        var outcome = WriteOutcome.blocked
        for _ in 0..<10_000 {
            outcome = output.write(to: pair.served)
            if case .failed = outcome { break }
            usleep(1000)
        }
        #expect(outcome == .failed(errno: ECONNRESET) || outcome == .failed(errno: EPIPE))
    }
}
