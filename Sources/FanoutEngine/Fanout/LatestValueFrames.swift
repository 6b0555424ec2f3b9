import FeedModel
import NIOCore

/// Ready-built `conflated` frames carrying the latest value of a symbol, for one event loop.
///
/// Conflation and lap resync send the same latest value to every subscriber that is owed it, so the
/// frame is built once per (symbol, seq) and shared, just like live updates. A cached frame is reused
/// while the last-value cache still has the same seq and timestamp for the symbol (the timestamp too:
/// after a feed's new epoch, seqs start again, and seq alone could match an old frame). Memory is bounded by one small
/// frame per symbol that ever needed one on this loop. Confined to the loop.
struct LatestValueFrames {
    private struct Cached {
        var seq: UInt64
        var timestamp: Timestamp
        var message: OutgoingMessage
    }

    private let lastValues: LastValueCache
    private var cached: [Cached?] = []

    init(lastValues: LastValueCache) {
        self.lastValues = lastValues
    }

    /// The newest value of `id` as a message, with its seq; nil if the symbol has no value yet.
    mutating func latest(_ id: SymbolID, allocator: ByteBufferAllocator) -> (seq: UInt64, message: OutgoingMessage)? {
        guard let snapshot = lastValues.snapshot(of: id), snapshot.seq > 0 else { return nil }
        if id.index < cached.count, let hit = cached[id.index], hit.seq == snapshot.seq, hit.timestamp == snapshot.timestamp {
            return (hit.seq, hit.message)
        }
        let message = OutgoingMessage(plain: WebSocketFrameBuilder.text(ServerMessage.conflated(snapshot), allocator: allocator))
        if id.index >= cached.count {
            cached.append(contentsOf: repeatElement(nil, count: id.index + 1 - cached.count))
        }
        cached[id.index] = Cached(seq: snapshot.seq, timestamp: snapshot.timestamp, message: message)
        return (snapshot.seq, message)
    }
}
