import Atomics
import NIOCore

/// The single writer of a `BroadcastBuffer`. Not thread-safe by design: exactly one thread (the
/// publisher's) may own it. It never waits for readers and never fails; slow readers get lapped.
///
/// Write protocol, per record (Agrona's):
/// 1. store `tailIntent = newTail`, then a release fence, so any reader that sees a byte of the new
///    record also sees the intent and knows the old bytes are going;
/// 2. write the header and payload words (relaxed);
/// 3. release-store `latest`, then `tail`, publishing the record.
public final class BroadcastTransmitter {
    public let buffer: BroadcastBuffer
    /// Writer-private copy of `buffer.tail`; only this object moves it.
    private var tailPosition: UInt64 = 0

    public init(buffer: BroadcastBuffer) {
        precondition(buffer.tail.load(ordering: .relaxed) == 0, "a buffer has exactly one transmitter for its lifetime")
        self.buffer = buffer
    }

    /// Appends one record whose payload is the readable bytes of `payload`.
    public func transmit(_ header: RecordHeader, payload: ByteBuffer) {
        payload.withUnsafeReadableBytes { transmit(header, payload: $0) }
    }

    public func transmit(_ header: RecordHeader, payload: UnsafeRawBufferPointer) {
        precondition(payload.count <= buffer.maxPayloadLength, "payload of \(payload.count) bytes exceeds the ring's record limit")
        let recordLength = RecordHeader.size + payload.count
        let alignedLength = alignedRecordLength(recordLength)
        var recordStart = tailPosition
        var offset = Int(recordStart) & buffer.mask
        let toEnd = buffer.capacity - offset

        if toEnd < alignedLength {
            // The record does not fit before the end: pad the remainder and start again at offset 0.
            signalTailIntent(recordStart + UInt64(toEnd + alignedLength))
            buffer.storeWord(UInt64(toEnd) | UInt64(RecordHeader.paddingType) << 32, atByteOffset: offset)
            recordStart += UInt64(toEnd)
            offset = 0
        } else {
            signalTailIntent(recordStart + UInt64(alignedLength))
        }

        buffer.storeWord(UInt64(recordLength) | UInt64(RecordHeader.messageType) << 32, atByteOffset: offset)
        buffer.storeWord(UInt64(header.symbolID), atByteOffset: offset + 8)
        buffer.storeWord(header.seq, atByteOffset: offset + 16)
        buffer.storeWord(header.publishedAt, atByteOffset: offset + 24)
        copyPayload(payload, toByteOffset: offset + RecordHeader.size)

        let newTail = recordStart + UInt64(alignedLength)
        buffer.latest.store(recordStart, ordering: .releasing)
        buffer.tail.store(newTail, ordering: .releasing)
        tailPosition = newTail
    }

    private func signalTailIntent(_ newTail: UInt64) {
        buffer.tailIntent.store(newTail, ordering: .relaxed)
        // Store-store barrier: the intent becomes visible no later than any byte written below.
        atomicMemoryFence(ordering: .releasing)
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
