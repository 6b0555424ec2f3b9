import Atomics
import NIOCore

/// One reader of a `BroadcastBuffer`. Owned by one thread (an event loop's fan-out consumer);
/// many receivers read one buffer concurrently without coordinating with each other or the writer.
///
/// A receiver starts at the writer's `latest` record. If the writer laps it (overwrites records it
/// has not read yet), the receiver notices, either before reading (`cursor + capacity <= tailIntent`)
/// or after copying a record (the same check, behind an acquire fence), counts the lap, and jumps
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
    private var nextRecord: UInt64
    /// How many times this receiver was lapped.
    public private(set) var lappedCount: UInt64 = 0

    public init(buffer: BroadcastBuffer) {
        self.buffer = buffer
        // Start at the newest record if there is one, else at the (empty) tail.
        let tail = buffer.tail.load(ordering: .acquiring)
        self.nextRecord = tail == 0 ? 0 : tail
    }

    /// Reads the next record, if any. `wantsPayload` sees the header and decides whether the payload
    /// is worth copying (a loop with no subscriber for that symbol skips the copy). Payloads are
    /// copied into a buffer from `allocator`; the caller owns it and may share it freely.
    public mutating func receiveNext(allocator: ByteBufferAllocator,
                                     wantsPayload: (RecordHeader) -> Bool) -> Outcome {
        let tail = buffer.tail.load(ordering: .acquiring)
        var cursor = nextRecord
        guard tail > cursor else { return .empty }

        if !isIntact(cursor) {
            return lapped()
        }
        var offset = Int(cursor) & buffer.mask
        var word0 = buffer.loadWord(atByteOffset: offset)
        if UInt32(truncatingIfNeeded: word0 >> 32) == RecordHeader.paddingType {
            cursor += UInt64(UInt32(truncatingIfNeeded: word0))
            offset = 0
            word0 = buffer.loadWord(atByteOffset: 0)
        }
        let recordLength = Int(UInt32(truncatingIfNeeded: word0))
        let word1 = buffer.loadWord(atByteOffset: offset + 8)
        let header = RecordHeader(symbolID: UInt32(truncatingIfNeeded: word1),
                                  kind: UInt32(truncatingIfNeeded: word1 >> 32),
                                  seq: buffer.loadWord(atByteOffset: offset + 16))

        // A torn header can hold any length: check it is plausible before using it to copy.
        guard recordLength >= RecordHeader.size, recordLength <= buffer.capacity - offset else {
            return lapped()
        }
        var payload: ByteBuffer?
        if wantsPayload(header) {
            payload = copyPayload(fromByteOffset: offset + RecordHeader.size,
                                  count: recordLength - RecordHeader.size, allocator: allocator)
        }
        // Everything read above is only trustworthy if the writer had not started overwriting it.
        atomicMemoryFence(ordering: .acquiring)
        guard isIntact(cursor) else { return lapped() }
        nextRecord = cursor + UInt64(alignedRecordLength(recordLength))
        return .record(header, payload: payload)
    }

    /// Records published but not yet read, in bytes: how far behind this receiver is.
    public var lagBytes: UInt64 {
        let tail = buffer.tail.load(ordering: .relaxed)
        return tail > nextRecord ? tail - nextRecord : 0
    }

    private func isIntact(_ position: UInt64) -> Bool {
        position + UInt64(buffer.capacity) > buffer.tailIntent.load(ordering: .acquiring)
    }

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
