/// A subscription's maximum update frequency, after Lightstreamer's `maxFrequency`: the subscriber
/// gets at most one message per symbol per interval, carrying the symbol's latest value, and the
/// updates in between are skipped (visible as a seq gap, counted as `throttled`).
///
/// The interval is whole milliseconds, the resolution the hub schedules at: a request's frequency
/// `f` becomes `round(1000 / f)` ms, at least 1. So `maxFrequency: 3` means one update per 333 ms.
/// The ack reports the interval the hub applies (`updateIntervalMs`).
public struct UpdateInterval: Sendable, Hashable, CustomStringConvertible {
    public let milliseconds: Int64

    /// Frequencies a request may ask for, in updates per second per symbol: from one per 100 s
    /// (slower than that, a client should poll `/v1/snapshot`) to one per millisecond.
    public static let lowestFrequency = 0.01
    public static let highestFrequency = 1000.0

    /// Nil when `maxFrequency` is outside `lowestFrequency...highestFrequency` (or not a number).
    public init?(maxFrequency: Double) {
        guard maxFrequency.isFinite, (Self.lowestFrequency...Self.highestFrequency).contains(maxFrequency) else { return nil }
        milliseconds = max(1, Int64((1000 / maxFrequency).rounded()))
    }

    public init(milliseconds: Int64) {
        precondition(milliseconds >= 1, "an update interval is at least 1 ms")
        self.milliseconds = milliseconds
    }

    public var nanoseconds: Int64 { milliseconds * 1_000_000 }

    public var description: String { "\(milliseconds) ms" }
}
