import FanoutEngine
import NIOCore
import NIOPosix
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// How the publisher's thread asks one of its loops to drain the ring, whichever transport the loop
/// is: a bell the loop serves among its sockets (`LoopDoorbell` on NIO, `EpollFanoutDoorbell` on the
/// owned transport).
protocol FanoutDoorbell: DrainSignal {
    /// Registers the bell with `fanout`'s loop, which then calls `drainSignalled()` when it rings;
    /// call once. Returns the channel NIO serves it with, if it is NIO's.
    func attach(to fanout: LoopFanout) async throws -> (any Channel)?
}

/// How the publisher's thread asks one NIO socket loop to drain the ring: a pipe whose read end the loop
/// polls together with its sockets, as a NIO pipe channel.
///
/// Why not `EventLoop.execute`: NIO runs every task queued while it runs tasks before it polls its
/// sockets again. Under overload each drain outlasts the publisher's interval, so a drain woken by a
/// task is followed by the next one with no poll in between, and the loop stops accepting and
/// reading: measured, half of 1,000 clients never got past the listen backlog. As an I/O event, a
/// drain is one readable descriptor among the loop's sockets, served once per poll like them.
///
/// Ownership: NIO owns the read end (it closes it when the channel closes). This object owns the
/// write end, which `signal()` writes to, until it is deinitialised, so a late signal never writes
/// to a descriptor number the process has reused.
final class LoopDoorbell: FanoutDoorbell {
    private let writeEnd: CInt
    /// Handed to NIO by `attach`, which then owns it; closed here if that never happened.
    private let readEnd: CInt
    private let attached = Atomic<Bool>(false)

    init() throws {
        var ends: [CInt] = [-1, -1]
        guard pipe(&ends) == 0 else { throw IOError(errnoCode: errno, reason: "pipe") }
        (readEnd, writeEnd) = (ends[0], ends[1])
        for end in ends {
            _ = fcntl(end, F_SETFD, FD_CLOEXEC)
            _ = fcntl(end, F_SETFL, fcntl(end, F_GETFL) | O_NONBLOCK)
        }
    }

    deinit {
        close(writeEnd)
        if !attached.load(ordering: .acquiring) { close(readEnd) }
    }

    /// From any thread: one byte into the pipe, which makes the read end readable. A full pipe
    /// (EAGAIN) is already readable, so a failed write loses nothing.
    func signal() {
        var byte: UInt8 = 1
        _ = write(writeEnd, &byte, 1)
    }

    /// Registers the read end with `fanout`'s loop, which calls `drainSignalled()` whenever it is
    /// signalled. Call once.
    func attach(to fanout: LoopFanout) async throws -> (any Channel)? {
        precondition(!attached.exchange(true, ordering: .acquiringAndReleasing), "a doorbell is attached once")
        let readSide = readEnd
        do {
            return try await NIOPipeBootstrap(group: fanout.eventLoop)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(Ringing(fanout: fanout))
                    }
                }
                .takingOwnershipOfDescriptor(input: readSide)
                .get()
        } catch {
            close(readSide)  // NIO owns it only once the channel exists
            throw error
        }
    }

    /// NIO reads the pipe empty; the drain runs once per readable event, however many signals it holds.
    private final class Ringing: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        let fanout: LoopFanout

        init(fanout: LoopFanout) {
            self.fanout = fanout
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {}

        func channelReadComplete(context: ChannelHandlerContext) {
            fanout.drainSignalled()
        }
    }
}
