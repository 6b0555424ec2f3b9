import NIOCore

/// One event loop's encoders: which form of a message each subscriber takes (plain, shared deflate,
/// zstd, or its own deflate stream), and the loop's compressors for the shared forms a record did
/// not bring (latest values, per-connection messages). Compressors are made on first use, so a
/// loop whose subscribers never ask for compression holds none. Confined to the loop.
struct LoopCodecs {
    private var compressors: SharedCompressors
    private let allocator: ByteBufferAllocator

    init(compression: SharedCompression, allocator: ByteBufferAllocator) {
        compressors = SharedCompressors(compression: compression)
        self.allocator = allocator
    }

    /// `message` in the form `subscriber` negotiated.
    mutating func frame(_ message: OutgoingMessage, for subscriber: Subscriber) -> ByteBuffer {
        switch subscriber.encoding {
        case .plain:
            return message.plain
        case .sharedDeflate:
            return message.sharedDeflate(
                compressors.compression, deflater: { compressors.sharedDeflater() }, allocator: allocator)
        case .zstd:
            return message.sharedZstd(compressor: { compressors.zstdCompressor() }, allocator: allocator)
        case .dedicatedDeflate(let own):
            // Compressing can only fail on memory exhaustion; a message may always go uncompressed.
            return (try? own.compressedFrame(of: message.plain, allocator: allocator)) ?? message.plain
        }
    }
}
