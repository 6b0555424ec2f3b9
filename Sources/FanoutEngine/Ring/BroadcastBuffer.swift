import Atomics
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A byte position in the ring's stream of records. Positions only grow (with 64 bits they never
/// wrap in practice); `offset(mask:)` is where a position falls in the buffer. Records start on
/// 8-byte boundaries, which debug builds check wherever a position is made.
struct RingPosition: RawRepresentable, AtomicValue, Comparable, Sendable {
    typealias AtomicRepresentation = AtomicRawRepresentableStorage<RingPosition>

    let rawValue: UInt64

    init(rawValue: UInt64) {
        assert(rawValue & 7 == 0, "ring positions are 8-byte aligned")
        self.rawValue = rawValue
    }

    static let zero = RingPosition(rawValue: 0)

    func advanced(by bytes: Int) -> RingPosition { RingPosition(rawValue: rawValue + UInt64(bytes)) }
    @inline(__always) func offset(mask: Int) -> Int { Int(truncatingIfNeeded: rawValue) & mask }
    static func < (lhs: RingPosition, rhs: RingPosition) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// The shared memory of the broadcast ring: a power-of-two array of 64-bit words plus three
/// positions, after Agrona's `BroadcastTransmitter`/`BroadcastReceiver`.
///
/// Every word is accessed with atomic loads and stores (relaxed for record contents), so a reader
/// that races with the writer over a record it is being lapped on reads stale or torn *values*,
/// never undefined behaviour; the seqlock-style validation in `BroadcastReceiver` then discards
/// them. This is also what keeps the ring clean under ThreadSanitizer.
///
/// The positions are only reached through the operations below, each named for the ordering it
/// carries: the writer *announces its intent*, writes the words, then *publishes*; a reader
/// *acquires the tail*, reads, then *validates after the copy*.
///
/// Invariants (checked by `BroadcastRingTests`):
/// - `tail <= tailIntent`, and `tailIntent - tail` is at most one record plus its padding.
/// - `latest` is the start of the newest complete record, and `latest < tail` once anything was sent.
/// - Records start on 8-byte boundaries and never wrap past the end of the buffer; the writer fills
///   the gap at the end with a padding record that runs exactly to the end.
/// - A record at position `p` is intact for a reader iff `p + capacity > tailIntent` was observed
///   *after* the reader finished copying it.
public final class BroadcastBuffer: @unchecked Sendable {
    // @unchecked: all shared state is reached through atomics; see the type's invariants.

    /// Size of the record area in bytes. A power of two, at least 1 KiB.
    public let capacity: Int
    let mask: Int
    let words: UnsafeMutablePointer<UnsafeAtomic<UInt64>.Storage>

    /// Where the writer is about to write up to; stored before a record's bytes are touched.
    private let tailIntent = ManagedAtomic<RingPosition>(.zero)
    /// Where the writer has finished writing up to; readers may read below it.
    private let tail = ManagedAtomic<RingPosition>(.zero)
    /// Start of the newest complete record; lapped readers jump here.
    private let latest = ManagedAtomic<RingPosition>(.zero)

    public init(capacity: Int) {
        precondition(
            capacity >= 1024 && capacity.nonzeroBitCount == 1, "capacity must be a power of two, at least 1 KiB")
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

    // MARK: The writer's side (one thread: `BroadcastTransmitter`)

    /// Step 1 of a write: tells readers that everything below `end - capacity` is about to be
    /// overwritten. The release fence after the store orders it before every word written next, so
    /// a reader that sees any byte of the new record also sees the intent.
    func announceIntent(upTo end: RingPosition) {
        tailIntent.store(end, ordering: .relaxed)
        atomicMemoryFence(ordering: .releasing)
    }

    /// Step 3 of a write: makes the record at `start` the newest and everything below `end`
    /// readable. Release stores: a reader that acquires `end` sees every word of the record.
    func publish(recordAt start: RingPosition, endingAt end: RingPosition) {
        latest.store(start, ordering: .releasing)
        tail.store(end, ordering: .releasing)
    }

    /// Where the writer has published up to, as the writer itself sees it (nothing to synchronise).
    var publishedTailForWriter: RingPosition { tail.load(ordering: .relaxed) }

    // MARK: The readers' side (any number of threads: `BroadcastReceiver`)

    /// Everything below the returned position is published; acquiring it makes those words visible.
    func acquireTail() -> RingPosition { tail.load(ordering: .acquiring) }

    /// The start of the newest complete record, where a lapped reader resumes.
    func acquireLatest() -> RingPosition { latest.load(ordering: .acquiring) }

    /// Whether the writer has not yet announced overwriting `start`: checked before a read, so a
    /// reader that is already lapped does not read at all.
    func isIntact(_ start: RingPosition) -> Bool {
        start.rawValue + UInt64(capacity) > tailIntent.load(ordering: .acquiring).rawValue
    }

    /// Whether a read that started at `start` saw only what the writer meant it to: the acquire
    /// fence orders every word read before it ahead of the intent loaded after it, so if the writer
    /// had begun overwriting any of those words, the intent says so. A false answer means the read
    /// must be thrown away, whatever it found.
    func validateAfterCopy(startedAt start: RingPosition) -> Bool {
        atomicMemoryFence(ordering: .acquiring)
        return isIntact(start)
    }

    // MARK: Words

    @inline(__always)
    func loadWord(atByteOffset offset: Int) -> UInt64 {
        UnsafeAtomic<UInt64>(at: words + (offset >> 3)).load(ordering: .relaxed)
    }

    @inline(__always)
    func storeWord(_ value: UInt64, atByteOffset offset: Int) {
        UnsafeAtomic<UInt64>(at: words + (offset >> 3)).store(value, ordering: .relaxed)
    }

    /// For tests: the three positions as they stand.
    var positionsForTesting: (tailIntent: UInt64, tail: UInt64, latest: UInt64) {
        (
            tailIntent.load(ordering: .relaxed).rawValue, tail.load(ordering: .relaxed).rawValue,
            latest.load(ordering: .relaxed).rawValue
        )
    }
}

@inline(__always)
func alignedRecordLength(_ length: Int) -> Int { (length + 7) & ~7 }
