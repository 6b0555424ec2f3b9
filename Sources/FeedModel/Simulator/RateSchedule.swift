/// Decides how many simulated events are due at a given time: a steady base rate, with optional
/// periodic bursts at ten times the rate (or another multiplier) to exercise backpressure.
///
/// It integrates the rate over elapsed time, piecewise across burst boundaries, and keeps the
/// fractional remainder, so the rate is exact however coarse or irregular the driver's wake-ups
/// are (the simulated feed sleeps until the next tick is due).
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

    /// How long after `nanos` (the time of the last `ticksDue` call) the next event falls due, at the
    /// rate then; never past the start of the next burst, when the rate changes. A driver can sleep
    /// this long instead of waking every interval to find nothing due: at 10 ticks/s, 990 of every
    /// 1,000 wakes of a 1 ms timer found nothing.
    public func nanosUntilNextTick(atNanos nanos: UInt64) -> UInt64 {
        let rate = rate(atNanos: nanos)
        let boundary = nanosToNextBoundary(atNanos: nanos)
        guard rate > 0 else { return boundary ?? 1_000_000_000 }
        let untilDue = max(1, UInt64(max(0, (1 - owed) / rate * 1e9).rounded(.up)))
        return min(untilDue, boundary ?? untilDue)
    }

    /// Events per second at `nanos`.
    private func rate(atNanos nanos: UInt64) -> Double {
        ticksPerSecond * (isBursting(atNanos: nanos) ? (burst?.multiplier ?? 1) : 1)
    }

    /// Time from `nanos` to the next start or end of a burst; nil without bursts.
    private func nanosToNextBoundary(atNanos nanos: UInt64) -> UInt64? {
        guard let burst else { return nil }
        guard nanos >= burst.periodNanos else { return burst.periodNanos - nanos }
        let phase = nanos % burst.periodNanos
        return phase < burst.lengthNanos ? burst.lengthNanos - phase : burst.periodNanos - phase
    }

    /// The number of events due since the previous call. The first call only starts the clock.
    public mutating func ticksDue(atNanos nanos: UInt64) -> Int {
        defer { lastNanos = nanos }
        guard let last = lastNanos, nanos > last else { return 0 }
        var from = last
        while from < nanos {
            let to = min(nanos, from + (nanosToNextBoundary(atNanos: from) ?? (nanos - from)))
            owed += rate(atNanos: from) * Double(to - from) / 1e9
            from = to
        }
        // A stalled driver must not release an unbounded backlog at once: cap at one second's worth.
        owed = min(owed, max(rate(atNanos: nanos), 1))
        let due = Int(owed)
        owed -= Double(due)
        return due
    }
}
