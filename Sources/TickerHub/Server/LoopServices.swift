import EpollTransport
import FanoutEngine
import NIOCore

/// What one subscriber loop keeps for all of its connections, found by the loop a connection lives
/// on: one value per loop, so that a new per-loop service is one field here, not another map.
struct LoopServices: Sendable {
    /// The loop's consumer of the ring.
    let fanout: LoopFanout
    /// How the publisher tells the loop to drain.
    let doorbell: any FanoutDoorbell
    /// One keep-alive timer for all of the loop's subscriber sessions.
    let keepAliveSweep: KeepAliveSweep
    /// One inflater for the loop's subscribers' compressed requests.
    let inflater: LoopInflater

    /// An eventfd (owned transport) or a pipe (NIO) for `loop`; without one the hub cannot drain at
    /// all, so failing to make one is fatal.
    static func makeDoorbell(for loop: any EventLoop) -> any FanoutDoorbell {
        do {
            if let owned = loop as? EpollLoop { return try EpollFanoutDoorbell(loop: owned) }
            return try LoopDoorbell()
        } catch {
            fatalError("cannot create the fan-out doorbell: \(error)")
        }
    }
}
