import Atomics
import NIOCore

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
    public func worthwhileDeflate(
        of plain: ByteBuffer, deflater: () -> MessageDeflater?,
        allocator: ByteBufferAllocator
    ) -> ByteBuffer? {
        guard plain.readableBytes - 2 >= deflateThresholdBytes,
            let compressed = try? deflater()?.compressedFrame(of: plain, allocator: allocator),
            compressed.readableBytes < plain.readableBytes
        else { return nil }
        return compressed
    }

    public func add(sharedDeflate delta: Int) { sharedDeflate.wrappingIncrement(by: delta, ordering: .relaxed) }
    /// A stale answer is harmless: a consumer compresses a missing variant itself.
    public var wantsSharedDeflate: Bool { sharedDeflate.load(ordering: .relaxed) > 0 }
}
