import Atomics
import NIOCore

/// The forms of one message that a ring record carries: the plain frame always, and the shared
/// permessage-deflate frame when some subscriber takes it and the message is worth compressing.
///
/// Record payload layout: `plain length` (UInt32, little-endian), the plain frame, then the deflate
/// frame (the rest, possibly empty). Reading slices the record's buffer, so no variant is copied.
public struct FrameVariants {
    public var plain: ByteBuffer
    public var deflate: ByteBuffer?

    public init(plain: ByteBuffer, deflate: ByteBuffer? = nil) {
        self.plain = plain
        self.deflate = deflate
    }

    /// Writes the record payload for `plain` and `deflate` into `buffer` (cleared first).
    public static func write(plain: ByteBuffer, deflate: ByteBuffer?, into buffer: inout ByteBuffer) {
        buffer.clear()
        buffer.writeInteger(UInt32(plain.readableBytes), endianness: .little)
        buffer.writeImmutableBuffer(plain)
        if let deflate { buffer.writeImmutableBuffer(deflate) }
    }

    /// The variants in a record payload written by `write`.
    public init?(payload: ByteBuffer) {
        var payload = payload
        guard let plainLength = payload.readInteger(endianness: .little, as: UInt32.self),
              let plain = payload.readSlice(length: Int(plainLength)) else { return nil }
        self.plain = plain
        self.deflate = payload.readableBytes > 0 ? payload : nil
    }
}

/// Shared compression settings and demand: how many subscribers take the shared deflate frames, so
/// the publisher builds that variant only when someone needs it (sessions count themselves in and
/// out; the publisher reads it per batch), and the size below which messages go uncompressed.
public final class SharedCompression: Sendable {
    private let sharedDeflate = ManagedAtomic<Int>(0)
    /// Messages with a smaller payload are sent uncompressed even to deflate subscribers (RFC 7692
    /// lets a sender leave any message uncompressed): below it, deflate saves too little to pay.
    public let deflateThresholdBytes: Int

    public init(deflateThresholdBytes: Int = 0) {
        self.deflateThresholdBytes = deflateThresholdBytes
    }

    public func add(sharedDeflate delta: Int) { sharedDeflate.wrappingIncrement(by: delta, ordering: .relaxed) }
    /// A stale answer is harmless: a consumer compresses a missing variant itself.
    public var wantsSharedDeflate: Bool { sharedDeflate.load(ordering: .relaxed) > 0 }
}

/// One message as a loop hands it out: the plain frame, and the shared deflate frame, taken from the
/// record or compressed on first need (once per loop) when the record came without it.
final class OutgoingMessage {
    let plain: ByteBuffer
    private var deflate: ByteBuffer?

    init(_ variants: FrameVariants) {
        plain = variants.plain
        deflate = variants.deflate
    }

    init(plain: ByteBuffer) {
        self.plain = plain
    }

    func sharedDeflate(_ compression: SharedCompression, deflater: () -> MessageDeflater?,
                       allocator: ByteBufferAllocator) -> ByteBuffer {
        if let deflate { return deflate }
        guard plain.readableBytes - 2 >= compression.deflateThresholdBytes,
              let compressed = try? deflater()?.compressedFrame(of: plain, allocator: allocator) else { return plain }
        deflate = compressed
        return compressed
    }
}
