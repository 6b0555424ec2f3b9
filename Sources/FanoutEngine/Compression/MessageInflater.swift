import CompressNIO
import NIOCore

/// Decompresses permessage-deflate messages from a client (RFC 7692 §7.2.2): appends the
/// `00 00 ff ff` tail the sender removed and inflates, refusing to produce more than a limit, so a
/// small message cannot expand into a huge one (a "zip bomb").
///
/// With `contextTakeover` false (the hub negotiates `client_no_context_takeover`), the stream is reset
/// after each message, so one inflater can serve every connection on a loop. Not thread-safe.
public final class MessageInflater {
    public enum Failure: Error, Equatable {
        /// The message would inflate past the limit.
        case tooLarge(limit: Int)
        /// Not valid DEFLATE data.
        case corrupt
    }

    public let contextTakeover: Bool
    private let decompressor: ZlibDecompressor
    private static let tail: [UInt8] = [0x00, 0x00, 0xFF, 0xFF]

    public init(contextTakeover: Bool, windowBits: Int32 = 15) throws {
        self.contextTakeover = contextTakeover
        decompressor = try ZlibDecompressor(algorithm: .deflate, windowSize: windowBits)
    }

    /// The inflated message; at most `limit` bytes.
    public func inflate(_ message: ByteBuffer, limit: Int, allocator: ByteBufferAllocator) throws(Failure) -> ByteBuffer
    {
        var input = allocator.buffer(capacity: message.readableBytes + 4)
        input.writeImmutableBuffer(message)
        input.writeBytes(Self.tail)
        // One byte of headroom: filling it means the message is over the limit.
        var output = allocator.buffer(capacity: min(limit, max(256, message.readableBytes * 8)) + 1)
        defer { if !contextTakeover { try? decompressor.reset() } }
        while true {
            do {
                try decompressor.inflate(from: &input, to: &output)
                break
            } catch let error as CompressNIOError where error == .bufferOverflow {
                guard output.readableBytes <= limit else { throw .tooLarge(limit: limit) }
                // Out of room but not over the limit yet: grow and go on.
                output.reserveCapacity(
                    minimumWritableBytes: min(limit + 1 - output.readableBytes, max(output.capacity, 1024)))
            } catch let error as CompressNIOError where error == .inputBufferOverflow {
                break  // all input consumed: the message ended with the sync-flush tail
            } catch {
                throw .corrupt
            }
        }
        guard output.readableBytes <= limit else { throw .tooLarge(limit: limit) }
        return output
    }
}
