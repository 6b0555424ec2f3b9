/// When a woken loop drains the ring: at once, or a little later so that more ticks share each
/// socket write.
///
/// Fan-out on loopback costs a write syscall per subscriber per drain (~10 µs), almost whatever the
/// bytes. A subscriber that gets one message per drain costs one syscall per message; waiting so
/// that a drain covers more ticks gives it several messages per write. The wait adapts to load:
/// it is the previous drain's duration (a busy loop drains for milliseconds, an idle one for
/// microseconds) capped by `maxDelay`, the latency the operator accepts for it. So a quiet hub
/// drains at once, and a loaded one batches more as it gets busier, never beyond the bound.
public struct DrainPacing: Sendable, Equatable {
    /// The longest a drain may be deferred after a wake. Zero drains at once (the default).
    public var maxDelay: Duration

    public init(maxDelay: Duration = .zero) {
        self.maxDelay = maxDelay
    }

    public static let immediate = DrainPacing()

    /// Deferrals shorter than this are not worth a timer; the drain runs at once.
    static let minimumDelay = Duration.microseconds(100)

    /// How long to wait before the next drain, given how long the last one took.
    public func delay(afterDrainTaking last: Duration) -> Duration? {
        let delay = min(maxDelay, last)
        return delay >= Self.minimumDelay ? delay : nil
    }
}
