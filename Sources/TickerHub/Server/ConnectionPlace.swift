import Synchronization

/// A connection's place in `ConnectionLimits`, given back exactly once: when its NIO channel closes,
/// or, for a subscriber handed over to the owned transport, when the owned connection closes (the
/// channel closes at the handover, but the connection goes on).
final class ConnectionPlace: Sendable {
    private enum State: UInt8 { case held, handedOver, released }

    private let limits: ConnectionLimits
    private let key: String
    private let state = Atomic<UInt8>(State.held.rawValue)

    init(limits: ConnectionLimits, key: String) {
        self.limits = limits
        self.key = key
    }

    /// The channel closed: the place is free, unless the connection was handed over.
    func channelClosed() {
        if state.compareExchange(expected: State.held.rawValue, desired: State.released.rawValue, ordering: .relaxed)
            .exchanged
        {
            limits.release(key)
        }
    }

    /// From now on the place is freed by `release`, not by the channel's close. Call before closing the channel.
    func handOver() {
        _ = state.compareExchange(expected: State.held.rawValue, desired: State.handedOver.rawValue, ordering: .relaxed)
    }

    /// The owned connection closed.
    func release() {
        if state.compareExchange(
            expected: State.handedOver.rawValue, desired: State.released.rawValue, ordering: .relaxed
        ).exchanged {
            limits.release(key)
        }
    }
}
