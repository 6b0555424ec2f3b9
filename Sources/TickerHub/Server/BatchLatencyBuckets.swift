import Atomics

/// Fan-out batch durations, counted into fixed buckets with relaxed atomics, for `/stats` and the
/// `/ops` page. (`/metrics` has the same buckets as a Prometheus histogram.) A reader takes two
/// readings and works out a percentile of the batches in between from the difference, so any number
/// of pages can poll without resetting anything.
final class BatchLatencyBuckets: Sendable {
    /// Upper bounds in microseconds; one more bucket counts everything above the last.
    static let upperBoundsMicros: [UInt64] = [
        50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000,
    ]

    private let counts: [ManagedAtomic<UInt64>] = (0...upperBoundsMicros.count).map { _ in ManagedAtomic(0) }
    private let sumMicros = ManagedAtomic<UInt64>(0)

    func record(_ duration: Duration) {
        let micros =
            UInt64(max(0, duration.components.seconds)) * 1_000_000
            + UInt64(max(0, duration.components.attoseconds)) / 1_000_000_000_000
        let bucket = Self.upperBoundsMicros.firstIndex { micros <= $0 } ?? Self.upperBoundsMicros.count
        counts[bucket].wrappingIncrement(ordering: .relaxed)
        sumMicros.wrappingIncrement(by: micros, ordering: .relaxed)
    }

    /// Per-bucket counts (not cumulative), the last one for everything above the last bound.
    var bucketCounts: [UInt64] { counts.map { $0.load(ordering: .relaxed) } }
    var totalMicros: UInt64 { sumMicros.load(ordering: .relaxed) }
}
