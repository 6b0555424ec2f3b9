import CompressNIO
import NIOCore

/// Compresses whole WebSocket messages for permessage-deflate (RFC 7692 §7.2.1): raw DEFLATE, each
/// message ended with a sync flush whose trailing `00 00 ff ff` is removed, the frame marked RSV1.
///
/// Two uses, by `contextTakeover`:
/// - `false`, **shared**: the stream is reset after every message, so each compressed message stands
///   alone and one compressed frame is valid for every subscriber that negotiated
///   `server_no_context_takeover`. This is how a tick is compressed once for all of them.
/// - `true`, **dedicated**: one per connection; the LZ77 window carries over between messages (better
///   ratio on small, similar messages), at a fixed memory cost per connection (see `memoryBytes`).
///
/// Not thread-safe: owned by one thread (the publisher, or one event loop).
public final class MessageDeflater {
    public let contextTakeover: Bool
    public let windowBits: Int32
    public let memoryLevel: Int32
    private let compressor: ZlibCompressor
    private var output = ByteBufferAllocator().buffer(capacity: 1024)

    /// zlib's documented deflate memory: `(1 << (windowBits + 2)) + (1 << (memLevel + 9))`, plus about
    /// 6 KB of state.
    public var memoryBytes: Int { (1 << (Int(windowBits) + 2)) + (1 << (Int(memoryLevel) + 9)) + 6 * 1024 }

    /// - Parameters:
    ///   - windowBits: LZ77 window, 9...15 (at most what was negotiated as `server_max_window_bits`).
    ///   - level: zlib compression level; ticks are small, so a low level loses little ratio.
    public init(contextTakeover: Bool, windowBits: Int32 = 15, level: Int32 = 6, memoryLevel: Int32 = 8) throws {
        precondition((9...15).contains(windowBits))
        self.contextTakeover = contextTakeover
        self.windowBits = windowBits
        self.memoryLevel = memoryLevel
        compressor = try ZlibCompressor(
            algorithm: .deflate,
            configuration: ZlibConfiguration(
                windowSize: windowBits, compressionLevel: level, memoryLevel: memoryLevel, strategy: .default))
    }

    /// The compressed message (without the `00 00 ff ff` tail).
    public func compress(_ message: ByteBuffer) throws -> ByteBuffer {
        var input = message
        output.clear(minimumCapacity: compressor.maxSize(from: input))
        try compressor.deflate(from: &input, to: &output, flush: .sync)
        if !contextTakeover { try compressor.reset() }
        precondition(output.readableBytes >= 4, "a sync flush always ends with 00 00 ff ff")
        output.moveWriterIndex(to: output.writerIndex - 4)
        return output
    }

    /// A complete RSV1 frame carrying `message` compressed, in a new buffer of its own.
    public func compressedFrame(
        _ opcode: WebSocketFrameBuilder.Opcode, message: ByteBuffer,
        allocator: ByteBufferAllocator
    ) throws -> ByteBuffer {
        let compressed = try compress(message)
        var frame = allocator.buffer(capacity: compressed.readableBytes + WebSocketFrameBuilder.maxHeaderLength)
        WebSocketFrameBuilder.build(opcode, compressed: true, into: &frame) { $0.writeImmutableBuffer(compressed) }
        return frame
    }

    /// The same message as `frame` (a plain frame from `WebSocketFrameBuilder`), compressed.
    public func compressedFrame(of frame: ByteBuffer, allocator: ByteBufferAllocator) throws -> ByteBuffer {
        try compressedFrame(
            WebSocketFrameBuilder.opcode(of: frame), message: WebSocketFrameBuilder.payload(of: frame),
            allocator: allocator)
    }
}
