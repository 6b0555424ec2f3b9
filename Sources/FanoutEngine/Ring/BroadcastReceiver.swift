import Atomics
import NIOCore

/// One reader of a `BroadcastBuffer`. Owned by one thread (an event loop's fan-out consumer);
/// many receivers read one buffer concurrently without coordinating with each other or the writer.
///
/// A receiver starts at the writer's tail: it sees what is published after it was made. If the
/// writer laps it (overwrites records it has not read yet), the receiver notices, either before
/// reading (`cursor + capacity <= tailIntent`) or after copying a record (the same check, behind an
/// acquire fence), counts the lap, and jumps to the newest record. It never blocks the writer: in Agrona's words, loss is not an error
/// condition. Whoever consumes the records must then resynchronise from the last-value cache.
public struct BroadcastReceiver {
    public enum Outcome: Equatable {
        /// A record was read. `payload` is nil when the caller declined it.
        case record(RecordHeader, payload: ByteBuffer?)
        /// Nothing new since the last call.
        case empty
        /// The writer overwrote records this receiver had not read; it now continues from the newest.
        case lapped
    }

    public let buffer: BroadcastBuffer
    /// Position of the next record to read.
    private var nextRecord: UInt64
    /// How many times this receiver was lapped.
    public private(set) var lappedCount: UInt64 = 0

    public init(buffer: BroadcastBuffer) {
        self.buffer = buffer
        self.nextRecord = buffer.tail.load(ordering: .acquiring)
    }

    /// Reads the next record, if any. `wantsPayload` sees the header and decides whether the payload
    /// is worth copying (a loop with no subscriber for that symbol skips the copy). Payloads are
    /// copied into a buffer from `allocator`; the caller owns it and may share it freely.
    ///
    /// Nothing read from the buffer is trusted until the final check, made after the copy and behind
    /// an acquire fence, that the writer had not started to overwrite the position where this read
    /// *started*: a padding record, a header and a payload read while being lapped can each be torn.
    /// Before that check, values read only steer bounded reads (a length is clamped to the buffer).
    public mutating func receiveNext(allocator: ByteBufferAllocator,
                                     wantsPayload: (RecordHeader) -> Bool) -> Outcome {
        let tail = buffer.tail.load(ordering: .acquiring)
        let start = nextRecord
        guard tail > start else { return .empty }
        guard isIntact(start) else { return lapped() }

        var recordStart = start
        var offset = Int(start) & buffer.mask
        var word0 = buffer.loadWord(atByteOffset: offset)
        if recordType(word0) == RecordHeader.paddingType {
            // The writer pads exactly to the end of the buffer; anything else is a torn read.
            guard Int(recordLength(word0)) == buffer.capacity - offset else { return tornOrLapped() }
            recordStart += UInt64(buffer.capacity - offset)
            offset = 0
            word0 = buffer.loadWord(atByteOffset: 0)
        }
        let length = Int(recordLength(word0))
        // A torn header can hold any type and length: check both before using them to copy.
        guard recordType(word0) == RecordHeader.messageType,
              length >= RecordHeader.size, length <= buffer.capacity - offset else { return tornOrLapped() }
        let header = RecordHeader(symbolID: UInt32(truncatingIfNeeded: buffer.loadWord(atByteOffset: offset + 8)),
                                  seq: buffer.loadWord(atByteOffset: offset + 16),
                                  publishedAt: buffer.loadWord(atByteOffset: offset + 24))
        var payload: ByteBuffer?
        if wantsPayload(header) {
            payload = copyPayload(fromByteOffset: offset + RecordHeader.size, count: length - RecordHeader.size,
                                  allocator: allocator)
        }
        // Everything read above is only trustworthy if the writer had not started overwriting it.
        atomicMemoryFence(ordering: .acquiring)
        guard isIntact(start) else { return lapped() }
        nextRecord = recordStart + UInt64(alignedRecordLength(length))
        return .record(header, payload: payload)
    }

    /// Moves to the newest record without reading those before it, for a consumer that is too far
    /// behind to deliver them (it resynchronises from the last-value cache instead). Not a lap: the
    /// writer did not overwrite anything this receiver needed.
    public mutating func skipToNewest() {
        let newest = buffer.latest.load(ordering: .acquiring)
        if newest > nextRecord { nextRecord = newest }
    }

    /// Records published but not yet read, in bytes: how far behind this receiver is.
    public var lagBytes: UInt64 {
        let tail = buffer.tail.load(ordering: .relaxed)
        return tail > nextRecord ? tail - nextRecord : 0
    }

    private func isIntact(_ position: UInt64) -> Bool {
        position + UInt64(buffer.capacity) > buffer.tailIntent.load(ordering: .acquiring)
    }

    /// A read that found impossible values. A correct writer never leaves them at a position that
    /// is still intact, so the read must have raced with a lap; checked, not assumed.
    private mutating func tornOrLapped() -> Outcome {
        atomicMemoryFence(ordering: .acquiring)
        precondition(!isIntact(nextRecord), "ring record corrupt at an intact position")
        return lapped()
    }

    @inline(__always) private func recordType(_ word0: UInt64) -> UInt32 { UInt32(truncatingIfNeeded: word0 >> 32) }
    @inline(__always) private func recordLength(_ word0: UInt64) -> UInt32 { UInt32(truncatingIfNeeded: word0) }

    private mutating func lapped() -> Outcome {
        lappedCount += 1
        nextRecord = buffer.latest.load(ordering: .acquiring)
        return .lapped
    }

    private func copyPayload(fromByteOffset start: Int, count: Int, allocator: ByteBufferAllocator) -> ByteBuffer {
        var out = allocator.buffer(capacity: count)
        out.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { destination in
            var index = 0
            while index + 8 <= count {
                destination.storeBytes(of: buffer.loadWord(atByteOffset: start + index), toByteOffset: index, as: UInt64.self)
                index += 8
            }
            if index < count {
                var last = buffer.loadWord(atByteOffset: start + index)
                withUnsafeBytes(of: &last) { word in
                    UnsafeMutableRawBufferPointer(rebasing: destination[index..<count])
                        .copyMemory(from: UnsafeRawBufferPointer(rebasing: word[0..<(count - index)]))
                }
            }
            return count
        }
        return out
    }
}
