import FeedModel
import NIOCore

/// Ready-built frames carrying the latest value of a stream, for one event loop: a `conflated`
/// message for a symbol's quotes and trades, a whole `book` for a book stream, the last closed and
/// the open bar (`candles`) for a candle stream.
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
        guard let latest = lastValues.latest(of: id), latest.seq > 0 else { return nil }
        let timestamp: Timestamp
        switch latest {
        case .symbol(let snapshot): timestamp = snapshot.timestamp
        case .book(let book): timestamp = book.timestamp
        case .candles(let candles):
            timestamp = candles.open?.start ?? candles.closed.last?.start ?? Timestamp(nanosecondsSinceEpoch: 0)
        }
        if id.index < cached.count, let hit = cached[id.index], hit.seq == latest.seq, hit.timestamp == timestamp {
            return (hit.seq, hit.message)
        }
        // A book stream's latest value is a whole `book`: the client replaces its book with it.
        let message: ServerMessage
        switch latest {
        case .symbol(let snapshot): message = .conflated(snapshot)
        case .book(let book): message = .book(book)
        case .candles(let candles): message = .candles(candles)
        }
        let outgoing = OutgoingMessage(plain: WebSocketFrameBuilder.text(message, allocator: allocator))
        if id.index >= cached.count {
            cached.append(contentsOf: repeatElement(nil, count: id.index + 1 - cached.count))
        }
        cached[id.index] = Cached(seq: latest.seq, timestamp: timestamp, message: outgoing)
        return (latest.seq, outgoing)
    }
}
