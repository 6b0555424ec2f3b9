import CZstd
import NIOCore

/// A zstd dictionary trained on the hub's own messages, shared by every zstd subscriber.
///
/// Small messages compress poorly on their own; with a dictionary of what such messages usually
/// contain, a ~120-byte tick shrinks to a fraction, and each compressed message still stands alone:
/// one compressed frame serves every zstd subscriber, with no state per connection. The dictionary's
/// id is written in every zstd frame header, so a client knows which dictionary to fetch
/// (`GET /v1/zstd/dictionary/{id}`).
///
/// Immutable after creation; the prepared `ZSTD_CDict` is read-only and safe to share across threads.
public final class ZstdDictionary: @unchecked Sendable {
    public enum Failure: Error, Equatable {
        case training(String)
    }

    /// The dictionary bytes, as served to clients.
    public let bytes: [UInt8]
    /// The id zstd writes in each frame header (`ZDICT_getDictID`).
    public let id: UInt32
    public let level: Int32
    let compressionDictionary: OpaquePointer

    /// Trains a dictionary of at most `capacity` bytes from `samples` (ZDICT_trainFromBuffer).
    public init(trainingOn samples: [[UInt8]], capacity: Int = 8 * 1024, level: Int32 = 3) throws(Failure) {
        let joined = samples.flatMap { $0 }
        let sizes = samples.map { $0.count }
        var dictionary = [UInt8](repeating: 0, count: capacity)
        let size = dictionary.withUnsafeMutableBytes { out in
            joined.withUnsafeBytes { input in
                sizes.withUnsafeBufferPointer { sizes in
                    ZDICT_trainFromBuffer(
                        out.baseAddress, capacity, input.baseAddress, sizes.baseAddress, UInt32(sizes.count))
                }
            }
        }
        if ZDICT_isError(size) != 0 {
            throw .training(String(cString: ZDICT_getErrorName(size)))
        }
        bytes = Array(dictionary.prefix(size))
        id = bytes.withUnsafeBytes { ZDICT_getDictID($0.baseAddress, $0.count) }
        self.level = level
        guard let prepared = bytes.withUnsafeBytes({ ZSTD_createCDict($0.baseAddress, $0.count, level) }) else {
            throw .training("ZSTD_createCDict failed")
        }
        compressionDictionary = prepared
    }

    deinit {
        ZSTD_freeCDict(compressionDictionary)
    }
}

/// Compresses messages with a `ZstdDictionary`: one zstd frame per message, with the dictionary id
/// and content size in its header. Owns a `ZSTD_CCtx`, so one per thread (the publisher, each loop).
public final class ZstdMessageCompressor {
    public let dictionary: ZstdDictionary
    private let context: OpaquePointer

    public init(dictionary: ZstdDictionary) {
        self.dictionary = dictionary
        context = ZSTD_createCCtx()
    }

    deinit {
        ZSTD_freeCCtx(context)
    }

    /// A complete binary WebSocket frame holding `message` as one zstd frame.
    public func compressedFrame(_ message: ByteBuffer, allocator: ByteBufferAllocator) -> ByteBuffer? {
        let bound = ZSTD_compressBound(message.readableBytes)
        var frame = allocator.buffer(capacity: bound + WebSocketFrameBuilder.maxHeaderLength)
        var failed = false
        WebSocketFrameBuilder.build(.binary, into: &frame) { buffer in
            let written = message.withUnsafeReadableBytes { input in
                buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: bound) { output in
                    let size = ZSTD_compress_usingCDict(
                        context, output.baseAddress, output.count, input.baseAddress, input.count,
                        dictionary.compressionDictionary)
                    return ZSTD_isError(size) != 0 ? 0 : size
                }
            }
            failed = written == 0
        }
        return failed ? nil : frame
    }

    /// The same message as `frame` (a plain frame from `WebSocketFrameBuilder`), as a zstd frame.
    public func compressedFrame(of frame: ByteBuffer, allocator: ByteBufferAllocator) -> ByteBuffer? {
        compressedFrame(WebSocketFrameBuilder.payload(of: frame), allocator: allocator)
    }
}

/// Decompresses zstd frames made with a known dictionary: the client side of `tickerhub.v1.zstd`
/// (feedsim, tests). Owns a `ZSTD_DCtx`, so one per thread.
public final class ZstdMessageDecompressor {
    private let dictionary: OpaquePointer
    private let context: OpaquePointer
    public let dictionaryID: UInt32

    public init?(dictionary bytes: [UInt8]) {
        guard let prepared = bytes.withUnsafeBytes({ ZSTD_createDDict($0.baseAddress, $0.count) }) else { return nil }
        dictionary = prepared
        context = ZSTD_createDCtx()
        dictionaryID = ZSTD_getDictID_fromDDict(prepared)
    }

    deinit {
        ZSTD_freeDDict(dictionary)
        ZSTD_freeDCtx(context)
    }

    /// The message in one zstd frame; nil if it is not a valid frame, needs another dictionary, or
    /// would exceed `limit` bytes.
    public func decompress(_ frame: ByteBuffer, limit: Int, allocator: ByteBufferAllocator) -> ByteBuffer? {
        frame.withUnsafeReadableBytes { input -> ByteBuffer? in
            let size = ZSTD_getFrameContentSize(input.baseAddress, input.count)
            guard size != ZSTD_CONTENTSIZE_ERROR, size != ZSTD_CONTENTSIZE_UNKNOWN, size <= UInt64(limit) else {
                return nil
            }
            var output = allocator.buffer(capacity: Int(size))
            let written = output.writeWithUnsafeMutableBytes(minimumWritableBytes: Int(size)) { out in
                let result = ZSTD_decompress_usingDDict(
                    context, out.baseAddress, Int(size), input.baseAddress, input.count, dictionary)
                return ZSTD_isError(result) != 0 ? 0 : result
            }
            return written == Int(size) ? output : nil
        }
    }
}
