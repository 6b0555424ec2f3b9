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
    public static func write(
        plain: ByteBuffer, deflate: SharedDeflate, zstd: ByteBuffer? = nil, into buffer: inout ByteBuffer
    ) {
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
            let deflateLength = payload.readInteger(endianness: .little, as: UInt32.self)
        else { return nil }
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
