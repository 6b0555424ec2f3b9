import NIOCore
import NIOWebSocket

/// Cuts a client's bytes into WebSocket frames (RFC 6455 §5.2) for the owned transport, which has
/// no NIO pipeline to run `WebSocketFrameDecoder` in. It refuses what that decoder refuses, with the
/// same errors, so a session closes both transports' connections with the same codes
/// (`CloseHandshake.closeCode`):
/// - a frame whose header announces more than `maxFrameSize` bytes, from the header alone, before
///   any of it is buffered (`invalidFrameLength`, 1009);
/// - a control frame that is fragmented or longer than 125 bytes (1002).
/// Masks, reserved bits and fragmentation across frames are `MessageAssembler`'s to check, as they
/// are behind NIO's decoder; the payload stays masked in the frame (`unmaskedData` unmasks), and is
/// a slice of the caller's buffer, not a copy.
struct ClientFrameReader {
    let maxFrameSize: Int

    /// The next complete frame at the front of `bytes`, taken out of it; nil when the rest of a frame
    /// has not arrived yet (nothing is consumed then).
    func next(from bytes: inout ByteBuffer) throws(NIOWebSocketError) -> WebSocketFrame? {
        let start = bytes.readerIndex
        guard let first = bytes.getInteger(at: start, as: UInt8.self),
            let second = bytes.getInteger(at: start + 1, as: UInt8.self)
        else { return nil }
        let opcode = WebSocketOpcode(encodedWebSocketOpcode: first & 0x0F)!  // four bits: always an opcode
        let fin = first & 0x80 != 0
        var headerLength = 2
        var length = UInt64(second & 0x7F)
        if length == 126 {
            guard let extended = bytes.getInteger(at: start + 2, as: UInt16.self) else { return nil }
            length = UInt64(extended)
            headerLength += 2
        } else if length == 127 {
            guard let extended = bytes.getInteger(at: start + 2, as: UInt64.self) else { return nil }
            length = extended
            headerLength += 8
        }
        // In NIO's order, so that a frame breaking two rules gets the same error from both.
        // Compared as UInt64 before any conversion: a 64-bit length with its top bit set is only "too long".
        guard length <= UInt64(maxFrameSize) else { throw .invalidFrameLength }
        if opcode.isControlOpcode {
            guard fin else { throw .fragmentedControlFrame }
            guard length <= 125 else { throw .multiByteControlFrameLength }
        }
        var maskKey: WebSocketMaskingKey?
        if second & 0x80 != 0 {
            guard let key = bytes.getBytes(at: start + headerLength, length: 4) else { return nil }
            maskKey = WebSocketMaskingKey(key)
            headerLength += 4
        }
        guard let data = bytes.getSlice(at: start + headerLength, length: Int(length)) else { return nil }
        bytes.moveReaderIndex(forwardBy: headerLength + Int(length))
        return WebSocketFrame(
            fin: fin, rsv1: first & 0x40 != 0, rsv2: first & 0x20 != 0, rsv3: first & 0x10 != 0,
            opcode: opcode, maskKey: maskKey, data: data)
    }
}
