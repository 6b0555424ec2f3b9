#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Wall-clock time as integer nanoseconds since the Unix epoch, as carried in every update's `ts`.
///
/// Wall clock (not monotonic) because clients in other processes compare it with their own clock
/// to measure end-to-end latency; on one machine both read the same clock.
public struct Timestamp: Sendable, Hashable, Comparable {
    public var nanosecondsSinceEpoch: UInt64

    public init(nanosecondsSinceEpoch: UInt64) {
        self.nanosecondsSinceEpoch = nanosecondsSinceEpoch
    }

    public static func now() -> Timestamp {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Timestamp(nanosecondsSinceEpoch: UInt64(spec.tv_sec) &* 1_000_000_000 &+ UInt64(spec.tv_nsec))
    }

    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool {
        lhs.nanosecondsSinceEpoch < rhs.nanosecondsSinceEpoch
    }
}
