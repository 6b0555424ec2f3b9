/// Decides how many simulated events are due at a given time: a steady base rate, with optional
/// periodic bursts at ten times the rate (or another multiplier) to exercise backpressure.
///
/// It integrates the rate over elapsed time and keeps the fractional remainder, so the long-run
/// rate is exact however coarse the driver's timer is.
public struct RateSchedule: Sendable {
    public struct Burst: Sendable, Equatable {
        /// A burst starts every `period` nanoseconds (the first one after one period)...
        public var periodNanos: UInt64
        /// ...and lasts `lengthNanos`.
        public var lengthNanos: UInt64
        public var multiplier: Double

        public init(periodNanos: UInt64, lengthNanos: UInt64, multiplier: Double = 10) {
            precondition(periodNanos > 0 && lengthNanos <= periodNanos, "a burst must fit in its period")
            self.periodNanos = periodNanos
            self.lengthNanos = lengthNanos
            self.multiplier = multiplier
        }
    }

    public var ticksPerSecond: Double
    public var burst: Burst?
    private var lastNanos: UInt64?
    private var owed: Double = 0

    public init(ticksPerSecond: Double, burst: Burst? = nil) {
        self.ticksPerSecond = ticksPerSecond
        self.burst = burst
    }

    /// Whether `nanos` (on the driver's monotonic clock, from its start) falls inside a burst.
    public func isBursting(atNanos nanos: UInt64) -> Bool {
        guard let burst, nanos >= burst.periodNanos else { return false }
        return nanos % burst.periodNanos < burst.lengthNanos
    }

    /// The number of events due since the previous call. The first call only starts the clock.
    public mutating func ticksDue(atNanos nanos: UInt64) -> Int {
        defer { lastNanos = nanos }
        guard let last = lastNanos, nanos > last else { return 0 }
        let rate = ticksPerSecond * (isBursting(atNanos: nanos) ? (burst?.multiplier ?? 1) : 1)
        owed += rate * Double(nanos - last) / 1e9
        // A stalled driver must not release an unbounded backlog at once: cap at one second's worth.
        owed = min(owed, max(rate, 1))
        let due = Int(owed)
        owed -= Double(due)
        return due
    }
}
