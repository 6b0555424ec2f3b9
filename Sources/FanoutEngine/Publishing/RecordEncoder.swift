import FeedModel
import NIOCore

/// Turns one message into a ring record's payload: the message's text frame, built **once**, and
/// the shared compressed variants some subscriber takes, each compressed once for all of them
/// (`FrameVariants`). It counts what it compressed until the publisher hands the tally to the
/// counters, once per batch.
///
/// Confined to the publisher's loop. Its buffers are reused for every message: the ring copies the
/// bytes, so one scratch frame and one record serve every message.
struct RecordEncoder {
    private var frame = ByteBufferAllocator().buffer(capacity: 1024)
    private var record = ByteBufferAllocator().buffer(capacity: 2048)
    private var compressors: SharedCompressors
    private let allocator = ByteBufferAllocator()
    private var tally = CompressionTally()

    init(compression: SharedCompression) {
        compressors = SharedCompressors(compression: compression)
    }

    /// The record payload for `message`, or nil when it is larger than `maxPayloadLength` (a deep
    /// book replaced whole, with a small ring): the caller then stands an empty record for it.
    mutating func payload(of message: ServerMessage, maxPayloadLength: Int) -> ByteBuffer? {
        WebSocketFrameBuilder.build(.text, into: &frame) { message.writeJSON(into: &$0) }
        let compression = compressors.compression
        var deflated = FrameVariants.SharedDeflate.notBuilt
        if compression.wantsSharedDeflate {
            if let compressed = compression.worthwhileDeflate(
                of: frame, deflater: { compressors.sharedDeflater() }, allocator: allocator)
            {
                deflated = .compressed(compressed)
                tally.deflatedFrames += 1
                tally.deflatedBytes += UInt64(compressed.readableBytes)
            } else {
                deflated = .notWorthCompressing
            }
        }
        var zstd: ByteBuffer?
        if compression.wantsZstd,
            let compressed = compressors.zstdCompressor()?.compressedFrame(of: frame, allocator: allocator)
        {
            zstd = compressed
            tally.zstdFrames += 1
            tally.zstdBytes += UInt64(compressed.readableBytes)
        }
        FrameVariants.write(plain: frame, deflate: deflated, zstd: zstd, into: &record)
        return record.readableBytes <= maxPayloadLength ? record : nil
    }

    /// Adds what was compressed since the last call to `counters`.
    mutating func publishTally(to counters: FanoutCounters) {
        tally.publish(to: counters)
        tally = CompressionTally()
    }

    /// The compressed frames built since the last `publishTally`.
    private struct CompressionTally {
        var deflatedFrames: UInt64 = 0, deflatedBytes: UInt64 = 0
        var zstdFrames: UInt64 = 0, zstdBytes: UInt64 = 0

        func publish(to counters: FanoutCounters) {
            if zstdFrames > 0 {
                counters.framesZstd.wrappingIncrement(by: zstdFrames, ordering: .relaxed)
                counters.zstdBytes.wrappingIncrement(by: zstdBytes, ordering: .relaxed)
            }
            if deflatedFrames > 0 {
                counters.framesDeflated.wrappingIncrement(by: deflatedFrames, ordering: .relaxed)
                counters.deflatedBytes.wrappingIncrement(by: deflatedBytes, ordering: .relaxed)
            }
        }
    }
}
