import NIOCore

/// One message as a loop hands it out: the plain frame, and the shared compressed frames, taken from
/// the record or compressed on first need (once per loop) when the record came without them.
final class OutgoingMessage {
    let plain: ByteBuffer
    private var deflate: ByteBuffer?
    private var zstd: ByteBuffer?

    init(_ variants: FrameVariants) {
        plain = variants.plain
        deflate = variants.deflate
        zstd = variants.zstd
    }

    /// The zstd frame (always binary, even for tiny messages: zstd subscribers get nothing else).
    func sharedZstd(compressor: () -> ZstdMessageCompressor?, allocator: ByteBufferAllocator) -> ByteBuffer {
        if let zstd { return zstd }
        guard let compressed = compressor()?.compressedFrame(of: plain, allocator: allocator) else {
            preconditionFailure("a zstd subscriber exists only when the hub has a dictionary")
        }
        zstd = compressed
        return compressed
    }

    init(plain: ByteBuffer) {
        self.plain = plain
    }

    /// The shared deflate frame, compressed on the loop's first need and kept, whatever the outcome:
    /// a message not worth compressing is tried once per loop, not once per subscriber.
    func sharedDeflate(
        _ compression: SharedCompression, deflater: () -> MessageDeflater?,
        allocator: ByteBufferAllocator
    ) -> ByteBuffer {
        if let deflate { return deflate }
        let frame = compression.worthwhileDeflate(of: plain, deflater: deflater, allocator: allocator) ?? plain
        deflate = frame
        return frame
    }
}
