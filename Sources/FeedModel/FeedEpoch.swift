/// Which numbering a symbol's `seq` belongs to.
///
/// Seqs are only comparable within one epoch. A hub that numbers updates itself (the simulator,
/// ingest) starts a new epoch each time it starts, because its seqs start again at 1; a client that
/// reconnects to a hub with another epoch knows its old seqs say nothing about what it missed, and
/// re-bases from snapshots instead of asking to recover. Sent in `welcome` and in every `snapshot`.
///
/// Text on the wire, not a number: JavaScript clients could not hold a 64-bit value exactly.
public struct FeedEpoch: Sendable, Hashable, CustomStringConvertible {
    public let rawValue: String

    /// Longest epoch a client may send back (a subscribe's `epoch`).
    public static let maxLength = 64

    public init?(_ rawValue: String) {
        guard !rawValue.isEmpty, rawValue.utf8.count <= Self.maxLength,
            rawValue.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") })
        else { return nil }
        self.rawValue = rawValue
    }

    /// A new epoch for a hub starting at `startedAt`: the start time in milliseconds (so epochs sort
    /// by age in logs) and 32 random bits (so two hubs started in the same millisecond differ).
    public static func starting(at startedAt: Timestamp, random: UInt32 = .random(in: .min ... .max)) -> FeedEpoch {
        let millis = startedAt.nanosecondsSinceEpoch / 1_000_000
        let suffix = String(random, radix: 16)
        return FeedEpoch("\(millis)-\(String(repeating: "0", count: 8 - suffix.count))\(suffix)")!
    }

    /// The start time an epoch made by `starting(at:)` carries (ms since the Unix epoch); nil for
    /// another form.
    public var startMilliseconds: UInt64? {
        guard let dash = rawValue.firstIndex(of: "-") else { return nil }
        return UInt64(rawValue[..<dash])
    }

    /// Whether this numbering began after `other`: a hub fed by a publisher follows it to a newer
    /// epoch (the publisher restarted) but ignores a straggler from an older one (a message of the
    /// previous publisher, or an answer from a node that has not moved on). Epochs without a start
    /// time are newer than anything but themselves.
    public func isNewer(than other: FeedEpoch) -> Bool {
        guard self != other else { return false }
        guard let mine = startMilliseconds, let theirs = other.startMilliseconds else { return true }
        return mine > theirs || (mine == theirs && rawValue > other.rawValue)
    }

    public var description: String { rawValue }
}
