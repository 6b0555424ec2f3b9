import FeedModel
import NIOCore

/// Builds complete, ready-to-write WebSocket frames (RFC 6455 §5.2): header plus payload in one
/// `ByteBuffer`. Server frames are never masked, so a frame is byte-identical for every recipient
/// and one buffer can be written to any number of channels.
///
/// The payload is written first, after 10 reserved bytes (the largest header); the header is then
/// written right in front of it and the reader index moved back, as NIO's own encoder prepends
/// when it can. So building a frame is one pass over the payload and no copy.
public enum WebSocketFrameBuilder {
    public enum Opcode: UInt8, Sendable {
        case text = 0x1
        case binary = 0x2
    }

    public static let maxHeaderLength = 10

    /// Clears `buffer` and builds one final, unmasked frame in it, with `writePayload` appending the payload.
    /// `compressed` sets RSV1: the payload is a permessage-deflate message (RFC 7692 §6).
    public static func build(
        _ opcode: Opcode, compressed: Bool = false, into buffer: inout ByteBuffer,
        writePayload: (inout ByteBuffer) -> Void
    ) {
        buffer.clear()
        buffer.moveWriterIndex(forwardBy: maxHeaderLength)
        buffer.moveReaderIndex(forwardBy: maxHeaderLength)
        writePayload(&buffer)
        let length = buffer.readableBytes
        let finAndOpcode: UInt8 = 0x80 | (compressed ? 0x40 : 0) | opcode.rawValue
        let headerStart: Int
        switch length {
        case 0...125:
            headerStart = maxHeaderLength - 2
            buffer.setInteger(finAndOpcode, at: headerStart)
            buffer.setInteger(UInt8(length), at: headerStart + 1)
        case 126...Int(UInt16.max):
            headerStart = maxHeaderLength - 4
            buffer.setInteger(finAndOpcode, at: headerStart)
            buffer.setInteger(UInt8(126), at: headerStart + 1)
            buffer.setInteger(UInt16(length), at: headerStart + 2)
        default:
            headerStart = 0
            buffer.setInteger(finAndOpcode, at: 0)
            buffer.setInteger(UInt8(127), at: 1)
            buffer.setInteger(UInt64(length), at: 2)
        }
        buffer.moveReaderIndex(to: headerStart)
    }

    /// A new buffer holding one text frame of `message`; for the per-connection control messages.
    public static func text(_ message: ServerMessage, allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: 256)
        build(.text, into: &buffer) { message.writeJSON(into: &$0) }
        return buffer
    }
}

extension WebSocketFrameBuilder {
    /// The payload of a frame built here (or any unmasked frame): the bytes after its header.
    public static func payload(of frame: ByteBuffer) -> ByteBuffer {
        guard let second = frame.getInteger(at: frame.readerIndex + 1, as: UInt8.self) else { return ByteBuffer() }
        let headerLength =
            switch second & 0x7F {
            case 126: 4
            case 127: 10
            default: 2
            }
        return frame.getSlice(at: frame.readerIndex + headerLength, length: frame.readableBytes - headerLength)
            ?? ByteBuffer()
    }

    /// The opcode of a frame built here.
    public static func opcode(of frame: ByteBuffer) -> Opcode {
        let first = frame.getInteger(at: frame.readerIndex, as: UInt8.self) ?? 0
        return Opcode(rawValue: first & 0x0F) ?? .text
    }
}
