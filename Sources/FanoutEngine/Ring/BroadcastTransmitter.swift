import Atomics
import NIOCore

/// The single writer of a `BroadcastBuffer`. Not thread-safe by design: exactly one thread (the
/// publisher's) may own it. It never waits for readers and never fails; slow readers get lapped.
///
/// Write protocol, per record (Agrona's):
/// 1. `announceIntent(upTo:)` the record's end, so any reader that sees a byte of the new record
///    also sees that the old bytes are going;
/// 2. write the header and payload words (relaxed);
/// 3. `publish(recordAt:endingAt:)`, making the record the newest and readable.
public final class BroadcastTransmitter {
    public let buffer: BroadcastBuffer
    /// Writer-private copy of the buffer's tail; only this object moves it.
    private var tail = RingPosition.zero

    public init(buffer: BroadcastBuffer) {
        precondition(buffer.publishedTailForWriter == .zero, "a buffer has exactly one transmitter for its lifetime")
        self.buffer = buffer
    }

    /// Appends one record whose payload is the readable bytes of `payload`.
    public func transmit(_ header: RecordHeader, payload: ByteBuffer) {
        payload.withUnsafeReadableBytes { transmit(header, payload: $0) }
    }

    public func transmit(_ header: RecordHeader, payload: UnsafeRawBufferPointer) {
        precondition(
            payload.count <= buffer.maxPayloadLength,
            "payload of \(payload.count) bytes exceeds the ring's record limit")
        let recordLength = RecordHeader.size + payload.count
        let alignedLength = alignedRecordLength(recordLength)
        var recordStart = tail
        var offset = recordStart.offset(mask: buffer.mask)
        let toEnd = buffer.capacity - offset

        if toEnd < alignedLength {
            // The record does not fit before the end: pad the remainder and start again at offset 0.
            buffer.announceIntent(upTo: recordStart.advanced(by: toEnd + alignedLength))
            buffer.storeWord(UInt64(toEnd) | UInt64(RecordHeader.paddingType) << 32, atByteOffset: offset)
            recordStart = recordStart.advanced(by: toEnd)
            offset = 0
        } else {
            buffer.announceIntent(upTo: recordStart.advanced(by: alignedLength))
        }

        buffer.storeWord(UInt64(recordLength) | UInt64(RecordHeader.messageType) << 32, atByteOffset: offset)
        buffer.storeWord(UInt64(header.symbolID), atByteOffset: offset + 8)
        buffer.storeWord(header.seq, atByteOffset: offset + 16)
        buffer.storeWord(header.publishedAt, atByteOffset: offset + 24)
        copyPayload(payload, toByteOffset: offset + RecordHeader.size)

        let end = recordStart.advanced(by: alignedLength)
        buffer.publish(recordAt: recordStart, endingAt: end)
        tail = end
    }

    private func copyPayload(_ payload: UnsafeRawBufferPointer, toByteOffset start: Int) {
        var index = 0
        let count = payload.count
        while index + 8 <= count {
            buffer.storeWord(payload.loadUnaligned(fromByteOffset: index, as: UInt64.self), atByteOffset: start + index)
            index += 8
        }
        if index < count {
            var last: UInt64 = 0
            withUnsafeMutableBytes(of: &last) { word in
                word.copyMemory(from: UnsafeRawBufferPointer(rebasing: payload[index..<count]))
            }
            buffer.storeWord(last, atByteOffset: start + index)
        }
    }
}
