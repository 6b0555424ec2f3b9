import Atomics
import NIOCore

/// The forms of one message that a ring record carries: the plain frame always, and each shared
/// compressed frame (permessage-deflate, zstd with the hub's dictionary) when some subscriber takes
/// it. A message not worth deflating is marked so, and shared-deflate subscribers get its plain frame
/// without anyone trying again.
///
/// Record payload layout: plain length (UInt32, little-endian), the plain frame, deflate length
/// (UInt32: 0 when not built, `UInt32.max` when not worth compressing), the deflate frame, then the
/// zstd frame (the rest, possibly empty). Reading slices the record's buffer, so no variant is copied.
public struct FrameVariants {
    public var plain: ByteBuffer
    /// The frame shared-deflate subscribers get: compressed, or `plain` itself when compressing does
    /// not pay; nil when it was not built.
    public var deflate: ByteBuffer?
    public var zstd: ByteBuffer?

    /// What the writer of a record did about the shared deflate frame.
    public enum SharedDeflate {
        /// Nobody took shared deflate: a consumer that needs it compresses it itself.
        case notBuilt
        /// Tried (or under the size threshold): it does not get smaller; deflate subscribers get `plain`.
        case notWorthCompressing
        case compressed(ByteBuffer)
    }

    private static let notWorthCompressingMarker = UInt32.max

    public init(plain: ByteBuffer, deflate: ByteBuffer? = nil, zstd: ByteBuffer? = nil) {
        self.plain = plain
        self.deflate = deflate
        self.zstd = zstd
    }

    /// Writes the record payload for the variants into `buffer` (cleared first).
    public static func write(plain: ByteBuffer, deflate: SharedDeflate, zstd: ByteBuffer? = nil, into buffer: inout ByteBuffer) {
        buffer.clear()
        buffer.writeInteger(UInt32(plain.readableBytes), endianness: .little)
        buffer.writeImmutableBuffer(plain)
        switch deflate {
        case .notBuilt:
            buffer.writeInteger(UInt32(0), endianness: .little)
        case .notWorthCompressing:
            buffer.writeInteger(notWorthCompressingMarker, endianness: .little)
        case .compressed(let frame):
            buffer.writeInteger(UInt32(frame.readableBytes), endianness: .little)
            buffer.writeImmutableBuffer(frame)
        }
        if let zstd { buffer.writeImmutableBuffer(zstd) }
    }

    /// The variants in a record payload written by `write`.
    public init?(payload: ByteBuffer) {
        var payload = payload
        guard let plainLength = payload.readInteger(endianness: .little, as: UInt32.self),
              let plain = payload.readSlice(length: Int(plainLength)),
              let deflateLength = payload.readInteger(endianness: .little, as: UInt32.self) else { return nil }
        self.plain = plain
        switch deflateLength {
        case 0:
            self.deflate = nil
        case Self.notWorthCompressingMarker:
            self.deflate = plain
        default:
            guard let deflate = payload.readSlice(length: Int(deflateLength)) else { return nil }
            self.deflate = deflate
        }
        self.zstd = payload.readableBytes > 0 ? payload : nil
    }
}

/// Shared compression settings and demand: how many subscribers take the shared deflate frames, so
/// the publisher builds that variant only when someone needs it (sessions count themselves in and
/// out; the publisher reads it per batch), and the size below which messages go uncompressed.
public final class SharedCompression: Sendable {
    private let sharedDeflate = ManagedAtomic<Int>(0)
    private let zstdSubscribers = ManagedAtomic<Int>(0)
    /// The dictionary of the `tickerhub.v1.zstd` subprotocol; nil when the hub offers no zstd.
    public let zstdDictionary: ZstdDictionary?
    /// Messages with a smaller payload are sent uncompressed even to deflate subscribers (RFC 7692
    /// lets a sender leave any message uncompressed), without trying: measured on our JSON, messages
    /// under ~90 bytes do not get smaller (a 45-byte heartbeat deflates to 47).
    public let deflateThresholdBytes: Int

    public init(deflateThresholdBytes: Int = 64, zstdDictionary: ZstdDictionary? = nil) {
        self.deflateThresholdBytes = deflateThresholdBytes
        self.zstdDictionary = zstdDictionary
    }

    public func add(zstd delta: Int) { zstdSubscribers.wrappingIncrement(by: delta, ordering: .relaxed) }
    public var wantsZstd: Bool { zstdDictionary != nil && zstdSubscribers.load(ordering: .relaxed) > 0 }

    /// `plain` compressed, or nil when it is under the threshold or would not get smaller (DEFLATE
    /// adds a few bytes to messages under ~90 bytes, such as heartbeats).
    public func worthwhileDeflate(of plain: ByteBuffer, deflater: () -> MessageDeflater?,
                                  allocator: ByteBufferAllocator) -> ByteBuffer? {
        guard plain.readableBytes - 2 >= deflateThresholdBytes,
              let compressed = try? deflater()?.compressedFrame(of: plain, allocator: allocator),
              compressed.readableBytes < plain.readableBytes else { return nil }
        return compressed
    }

    public func add(sharedDeflate delta: Int) { sharedDeflate.wrappingIncrement(by: delta, ordering: .relaxed) }
    /// A stale answer is harmless: a consumer compresses a missing variant itself.
    public var wantsSharedDeflate: Bool { sharedDeflate.load(ordering: .relaxed) > 0 }
}

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
    func sharedDeflate(_ compression: SharedCompression, deflater: () -> MessageDeflater?,
                       allocator: ByteBufferAllocator) -> ByteBuffer {
        if let deflate { return deflate }
        let frame = compression.worthwhileDeflate(of: plain, deflater: deflater, allocator: allocator) ?? plain
        deflate = frame
        return frame
    }
}
