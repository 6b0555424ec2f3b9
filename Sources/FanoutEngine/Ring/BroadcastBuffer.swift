import Atomics
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The shared memory of the broadcast ring: a power-of-two array of 64-bit words plus three
/// counters, after Agrona's `BroadcastTransmitter`/`BroadcastReceiver`.
///
/// Every word is accessed with atomic loads and stores (relaxed for record contents), so a reader
/// that races with the writer over a record it is being lapped on reads stale or torn *values*,
/// never undefined behaviour; the seqlock-style validation in `BroadcastReceiver` then discards
/// them. This is also what keeps the ring clean under ThreadSanitizer.
///
/// Positions (`tail`, `tailIntent`, `latest`, reader cursors) are byte offsets that only grow;
/// `position & mask` is the offset in the buffer. With 64-bit positions they never wrap in practice.
///
/// Invariants (checked by `BroadcastRingTests`):
/// - `tail <= tailIntent`, and `tailIntent - tail` is at most one record plus its padding.
/// - `latest` is the start of the newest complete record, and `latest < tail` once anything was sent.
/// - Records start on 8-byte boundaries and never wrap past the end of the buffer; the writer fills
///   the gap at the end with a padding record instead.
/// - A record at position `p` is intact for a reader iff `p + capacity > tailIntent` was observed
///   *after* the reader finished copying it.
public final class BroadcastBuffer: @unchecked Sendable {
    // @unchecked: all shared state is reached through atomics; see the type's invariants.

    /// Size of the record area in bytes. A power of two, at least 1 KiB.
    public let capacity: Int
    let mask: Int
    let words: UnsafeMutablePointer<UnsafeAtomic<UInt64>.Storage>

    /// Where the writer is about to write up to; stored before a record's bytes are touched.
    let tailIntent = ManagedAtomic<UInt64>(0)
    /// Where the writer has finished writing up to; readers may read below it.
    let tail = ManagedAtomic<UInt64>(0)
    /// Start of the newest complete record; lapped readers jump here.
    let latest = ManagedAtomic<UInt64>(0)

    public init(capacity: Int) {
        precondition(capacity >= 1024 && capacity.nonzeroBitCount == 1, "capacity must be a power of two, at least 1 KiB")
        self.capacity = capacity
        self.mask = capacity - 1
        let wordCount = capacity / 8
        // calloc, not allocate + initialize: a large calloc maps fresh zero pages without touching
        // them, so the ring costs resident memory only as far as the writer has got (an idle hub does
        // not carry 8 MiB it has not used). A zero word is an initialised atomic storage.
        guard let memory = calloc(wordCount, MemoryLayout<UnsafeAtomic<UInt64>.Storage>.stride) else {
            fatalError("cannot allocate a \(capacity)-byte ring")
        }
        words = memory.bindMemory(to: UnsafeAtomic<UInt64>.Storage.self, capacity: wordCount)
    }

    deinit {
        free(words)
    }

    /// The largest payload one record can carry: a record may take at most an eighth of the ring,
    /// so a reader that is not lapped always has several records of slack.
    public var maxPayloadLength: Int { capacity / 8 - RecordHeader.size }

    @inline(__always)
    func loadWord(atByteOffset offset: Int) -> UInt64 {
        UnsafeAtomic<UInt64>(at: words + (offset >> 3)).load(ordering: .relaxed)
    }

    @inline(__always)
    func storeWord(_ value: UInt64, atByteOffset offset: Int) {
        UnsafeAtomic<UInt64>(at: words + (offset >> 3)).store(value, ordering: .relaxed)
    }
}

/// The fixed 32-byte header in front of every record.
///
/// | word | bits 0–31                         | bits 32–63          |
/// |-----:|-----------------------------------|---------------------|
/// | 0    | record length incl. header        | type (0 padding, 1 message) |
/// | 1    | symbol id                         | (zero)              |
/// | 2    | seq (64 bits)                     |                     |
/// | 3    | published at: monotonic nanoseconds (`NIODeadline.uptimeNanoseconds`) |  |
public struct RecordHeader: Sendable, Equatable {
    public static let size = 32
    static let paddingType: UInt32 = 0
    static let messageType: UInt32 = 1

    public var symbolID: UInt32
    public var seq: UInt64
    /// When the publisher wrote the record, on the monotonic clock. A consumer that reaches a record
    /// much later than this is overloaded, and conflates instead of delivering it (`LoopFanout`).
    public var publishedAt: UInt64

    public init(symbolID: UInt32, seq: UInt64, publishedAt: UInt64 = 0) {
        self.symbolID = symbolID
        self.seq = seq
        self.publishedAt = publishedAt
    }
}

@inline(__always)
func alignedRecordLength(_ length: Int) -> Int { (length + 7) & ~7 }
