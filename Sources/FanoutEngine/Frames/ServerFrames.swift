import NIOCore

/// Reads back what the fan-out writes: one sink write holds one or more complete, unmasked server
/// frames back to back (`CorkedFrames`). For the tests, fuzzers and tools that check what a
/// subscriber was sent; the hub itself never parses its own frames.
public enum ServerFrames {
    /// The frames in `batch`, each with its header (7, 16 or 64-bit lengths); a frame cut short
    /// ends the list.
    public static func split(_ batch: ByteBuffer) -> [ByteBuffer] {
        var rest = batch
        var frames: [ByteBuffer] = []
        while rest.readableBytes >= 2, let second = rest.getInteger(at: rest.readerIndex + 1, as: UInt8.self) {
            let marker = second & 0x7F
            let header = marker == 126 ? 4 : marker == 127 ? 10 : 2
            let length: Int? =
                switch marker {
                case 126: rest.getInteger(at: rest.readerIndex + 2, as: UInt16.self).map(Int.init)
                case 127: rest.getInteger(at: rest.readerIndex + 2, as: UInt64.self).flatMap { Int(exactly: $0) }
                default: Int(marker)
                }
            guard let length, let frame = rest.readSlice(length: header + length) else { break }
            frames.append(frame)
        }
        return frames
    }

    /// A frame's payload, without its header.
    public static func payload(of frame: ByteBuffer) -> ByteBuffer {
        let marker = (frame.getInteger(at: frame.readerIndex + 1, as: UInt8.self) ?? 0) & 0x7F
        let header = marker == 126 ? 4 : marker == 127 ? 10 : 2
        return frame.getSlice(at: frame.readerIndex + header, length: frame.readableBytes - header) ?? ByteBuffer()
    }
}
