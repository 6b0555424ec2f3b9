import Atomics
import NIOCore

/// One reader of a `BroadcastBuffer`. Owned by one thread (an event loop's fan-out consumer);
/// many receivers read one buffer concurrently without coordinating with each other or the writer.
///
/// A receiver starts at the writer's tail: it sees what is published after it was made. If the
/// writer laps it (overwrites records it has not read yet), the receiver notices, either before
/// reading (`isIntact`) or after copying a record (`validateAfterCopy`), counts the lap, and jumps
/// to the newest record. It never blocks the writer: in Agrona's words, loss is not an error
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
    private var cursor: RingPosition
    /// How many times this receiver was lapped.
    public private(set) var lappedCount: UInt64 = 0
    #if DEBUG
    /// Runs between the first intactness check and the first read of the buffer: the window in which
    /// a real writer's lap tears a read. Tests put a lap exactly there; release builds have no seam.
    var betweenCheckAndReadForTesting: (() -> Void)?
    #endif

    public init(buffer: BroadcastBuffer) {
        self.buffer = buffer
        self.cursor = buffer.acquireTail()
    }

    /// Reads the next record, if any. `wantsPayload` sees the header and decides whether the payload
    /// is worth copying (a loop with no subscriber for that symbol skips the copy). Payloads are
    /// copied into a buffer from `allocator`; the caller owns it and may share it freely.
    ///
    /// Nothing read from the buffer is trusted until `validateAfterCopy` of the position where this
    /// read *started*: a padding record, a header and a payload read while being lapped can each be
    /// torn. Before that, values read only steer bounded reads (a length is checked against the buffer).
    public mutating func receiveNext(
        allocator: ByteBufferAllocator,
        wantsPayload: (RecordHeader) -> Bool
    ) -> Outcome {
        let start = cursor
        guard buffer.acquireTail() > start else { return .empty }
        guard buffer.isIntact(start) else { return lapped() }
        #if DEBUG
        betweenCheckAndReadForTesting?()
        #endif

        var recordStart = start
        var offset = start.offset(mask: buffer.mask)
        var word0 = buffer.loadWord(atByteOffset: offset)
        if recordType(word0) == RecordHeader.paddingType {
            // The writer pads exactly to the end of the buffer; anything else is a torn read.
            guard Int(recordLength(word0)) == buffer.capacity - offset else { return tornOrLapped(startedAt: start) }
            recordStart = recordStart.advanced(by: buffer.capacity - offset)
            offset = 0
            word0 = buffer.loadWord(atByteOffset: 0)
        }
        let length = Int(recordLength(word0))
        // A torn header can hold any type and length: check both before using them to copy.
        guard recordType(word0) == RecordHeader.messageType,
            length >= RecordHeader.size, length <= buffer.capacity - offset
        else { return tornOrLapped(startedAt: start) }
        let header = RecordHeader(
            symbolID: UInt32(truncatingIfNeeded: buffer.loadWord(atByteOffset: offset + 8)),
            seq: buffer.loadWord(atByteOffset: offset + 16),
            publishedAt: buffer.loadWord(atByteOffset: offset + 24))
        var payload: ByteBuffer?
        if wantsPayload(header) {
            payload = copyPayload(
                fromByteOffset: offset + RecordHeader.size, count: length - RecordHeader.size,
                allocator: allocator)
        }
        guard buffer.validateAfterCopy(startedAt: start) else { return lapped() }
        cursor = recordStart.advanced(by: alignedRecordLength(length))
        return .record(header, payload: payload)
    }

    /// Where the next read starts.
    var position: RingPosition { cursor }

    /// Records published but not yet read, in bytes: how far behind this receiver is.
    public var lagBytes: UInt64 {
        let tail = buffer.acquireTail()
        return tail > cursor ? tail.rawValue - cursor.rawValue : 0
    }

    /// A read that found impossible values. A correct writer never leaves them at a position that
    /// is still intact, so the read must have raced with a lap; checked, not assumed.
    private mutating func tornOrLapped(startedAt start: RingPosition) -> Outcome {
        precondition(!buffer.validateAfterCopy(startedAt: start), "ring record corrupt at an intact position")
        return lapped()
    }

    @inline(__always) private func recordType(_ word0: UInt64) -> UInt32 { UInt32(truncatingIfNeeded: word0 >> 32) }
    @inline(__always) private func recordLength(_ word0: UInt64) -> UInt32 { UInt32(truncatingIfNeeded: word0) }

    private mutating func lapped() -> Outcome {
        lappedCount += 1
        cursor = buffer.acquireLatest()
        return .lapped
    }

    private func copyPayload(fromByteOffset start: Int, count: Int, allocator: ByteBufferAllocator) -> ByteBuffer {
        var out = allocator.buffer(capacity: count)
        out.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { destination in
            var index = 0
            while index + 8 <= count {
                destination.storeBytes(
                    of: buffer.loadWord(atByteOffset: start + index), toByteOffset: index, as: UInt64.self)
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
