/// The compressors for the shared compressed forms of a message (permessage-deflate without context
/// takeover, zstd with the hub's dictionary), each made on first use so that a thread whose
/// subscribers never ask for compression holds none (a deflate stream is ~256 KiB).
///
/// The publisher's `RecordEncoder` holds one set, for the variants it puts in the ring; each loop's
/// `LoopCodecs` holds another, for what a record came without. Confined to its owner's thread.
struct SharedCompressors {
    let compression: SharedCompression
    private var deflater: MessageDeflater?
    private var zstd: ZstdMessageCompressor?

    init(compression: SharedCompression) {
        self.compression = compression
    }

    /// The deflater, made on first use; nil only if zlib cannot allocate one.
    mutating func sharedDeflater() -> MessageDeflater? {
        if deflater == nil { deflater = try? MessageDeflater(contextTakeover: false) }
        return deflater
    }

    /// The zstd compressor, made on first use; nil when the hub has no dictionary.
    mutating func zstdCompressor() -> ZstdMessageCompressor? {
        if zstd == nil, let dictionary = compression.zstdDictionary {
            zstd = ZstdMessageCompressor(dictionary: dictionary)
        }
        return zstd
    }
}
