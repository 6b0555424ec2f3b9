/// A subscription's maximum update frequency, after Lightstreamer's `maxFrequency`: the subscriber
/// gets at most one message per symbol per interval, carrying the symbol's latest value, and the
/// updates in between are skipped (visible as a seq gap, counted as `throttled`).
///
/// A request's frequency `f` becomes `1000 / f` milliseconds rounded **up** to two significant
/// digits (1–99 ms exactly, then 100, 110, ... 990, 1000, 1100, ... up to 100 s). Up, so a
/// subscriber never gets more than it asked for, and at most ~10% less (below 10 ms, at most 1 ms
/// longer); two digits, so an event loop has at most 370 distinct intervals, each with its own
/// release timer, however many different values its clients send. So `maxFrequency: 4` is 250 ms,
/// `3` is 340 ms, `60` is 17 ms.
/// The ack reports the interval the hub applies (`updateIntervalMs`).
public struct UpdateInterval: Sendable, Hashable, CustomStringConvertible {
    public let milliseconds: Int64

    /// Frequencies a request may ask for, in updates per second per symbol: from one per 100 s
    /// (slower than that, a client should poll `/v1/snapshot`) to one per millisecond.
    public static let lowestFrequency = 0.01
    public static let highestFrequency = 1000.0

    /// Nil when `maxFrequency` is outside `lowestFrequency...highestFrequency` (or not a number).
    public init?(maxFrequency: Double) {
        guard maxFrequency.isFinite, (Self.lowestFrequency...Self.highestFrequency).contains(maxFrequency) else {
            return nil
        }
        milliseconds = Self.roundedUpToTwoSignificantDigits(1000 / maxFrequency)
    }

    /// The smallest value with at most two significant digits that is not below `exact` (and at least 1).
    static func roundedUpToTwoSignificantDigits(_ exact: Double) -> Int64 {
        var unit: Int64 = 1
        while exact / Double(unit) >= 100 { unit *= 10 }
        // The nudge keeps a quotient that floating point lands a hair above a whole number (such as
        // 1000 / 0.1) from rounding up a step.
        let units = Int64((exact / Double(unit) * (1 - 1e-12)).rounded(.up))
        return max(1, units * unit)
    }

    public init(milliseconds: Int64) {
        precondition(milliseconds >= 1, "an update interval is at least 1 ms")
        self.milliseconds = milliseconds
    }

    public var nanoseconds: Int64 { milliseconds * 1_000_000 }

    public var description: String { "\(milliseconds) ms" }
}
