import EpollTransport
import FanoutEngine
import NIOCore

/// `LoopDoorbell` for an owned loop: the publisher rings an `EpollDoorbell`, and the loop drains its
/// fan-out consumer when it serves the bell among its sockets.
final class EpollFanoutDoorbell: FanoutDoorbell {
    private let loop: EpollLoop
    private let bell: EpollDoorbell

    init(loop: EpollLoop) throws {
        self.loop = loop
        bell = try EpollDoorbell()
    }

    func signal() { bell.ring() }

    func attach(to fanout: LoopFanout) async throws -> (any Channel)? {
        let (loop, bell) = (self.loop, self.bell)
        try await loop.submit { try bell.attach(to: loop) { fanout.drainSignalled() } }.get()
        return nil
    }
}
