import FeedModel

/// The publisher's order books: each symbol's whole book (up to `OrderBook.maxDepth` levels per
/// side), and the messages a change gives its book streams. Confined to the publisher's loop.
///
/// A change is applied to the whole book, then each depth's view is compared before and after
/// (`OrderBook.delta(from:depth:)`): a stream gets an update, numbered by the caller, only when the
/// levels it shows changed. A change deep in the book is thus not sent to depth-10 subscribers.
///
/// **A book the hub knows may be wrong is not changed.** Changes are level sets, so one that is
/// missed leaves the book wrong for good, and its checksum would not show it: the hub computes it
/// from the same wrong book. So a publisher's numbered changes must follow on from a whole book
/// (`replacesBook`), or from the first change of an empty book (seq 1). A book whose publisher
/// skipped a seq, or that the hub joined in the middle, is *awaiting a whole book*: its changes are
/// dropped (and counted) until one comes, and its subscribers keep the last good book meanwhile.
/// (Unnumbered changes are taken as they come: that publisher vouches for its own order.)
struct PublisherBooks {
    private struct Entry {
        var book = OrderBook()
        /// The publisher's last book seq for the symbol (0: none yet).
        var upstreamSeq: UInt64 = 0
        /// Changes follow on from a book this hub holds whole.
        var inStep = false
        /// The symbol's book streams, parallel to `OrderBook.depths`.
        let streams: [SymbolID]
        /// This hub's number for the symbol's changes: the publisher's seq, or its own count.
        var recordSeq: UInt64 = 0
    }

    /// What one change gives one book stream.
    struct StreamChange {
        var stream: SymbolID
        var depth: Int
        var delta: BookDelta
    }

    /// What happened to one change.
    enum Outcome {
        /// Applied: the book after it, each stream's delta (only streams whose levels changed), and
        /// the change numbered as this hub passes it on (`--publish-nats`).
        case applied(book: OrderBook, changes: [StreamChange], record: BookRecord)
        /// At or below the publisher's last book seq: dropped.
        case stale
        /// The publisher's seq jumped by `skipped` (or the hub joined mid-stream, `skipped` 0), or
        /// the book already awaits a whole one: dropped, and the book awaits a whole one.
        case awaitingWholeBook(skipped: UInt64)
        /// Refused, the book unchanged: a level refused (`BookError`), or not a symbol's id.
        case refused
    }

    private var entries: [Entry?] = []

    /// Applies `update` to its symbol's book.
    mutating func apply(_ update: BookFeedUpdate, directory: SymbolDirectory) -> Outcome {
        let index = update.symbolID.index
        if index >= entries.count { entries.append(contentsOf: repeatElement(nil, count: index + 1 - entries.count)) }
        if entries[index] == nil {
            guard let streams = directory.bookStreams(of: update.symbolID) else { return .refused }
            entries[index] = Entry(streams: streams)
        }
        var entry = entries[index]!
        if let seq = update.upstreamSeq {
            if update.replacesBook {
                // A whole book is a fresh start (the publisher restarted, or the hub asked for it):
                // taken whatever its seq, which the next changes follow.
            } else {
                guard seq > entry.upstreamSeq else { return .stale }
                let followsOn = seq == entry.upstreamSeq + 1 && (entry.inStep || seq == 1)
                if !followsOn {
                    // Both below 2^64 and seq > last: no overflow. Joining mid-stream is no gap.
                    let skipped = entry.upstreamSeq > 0 ? seq - entry.upstreamSeq - 1 : 0
                    entry.upstreamSeq = seq
                    entry.inStep = false
                    entries[index] = entry
                    return .awaitingWholeBook(skipped: skipped)
                }
            }
        }
        let before = entry.book
        var after = update.replacesBook ? OrderBook() : before
        do {
            try after.apply(update.change)
        } catch {
            return .refused
        }
        entry.book = after
        entry.inStep = true
        if let seq = update.upstreamSeq {
            entry.upstreamSeq = seq
            entry.recordSeq = seq
        } else {
            entry.recordSeq &+= 1
        }
        entries[index] = entry
        var changes: [StreamChange] = []
        for (depth, stream) in zip(OrderBook.depths, entry.streams) {
            let delta = after.delta(from: before, depth: depth)
            if !delta.isEmpty { changes.append(StreamChange(stream: stream, depth: depth, delta: delta)) }
        }
        let record = BookRecord(
            symbol: update.symbol, seq: entry.recordSeq, timestamp: update.timestamp, change: update.change,
            replacesBook: update.replacesBook)
        return .applied(book: after, changes: changes, record: record)
    }

    /// Forgets every book (a feed's new epoch: its publisher sends its books again).
    mutating func removeAll() {
        for index in entries.indices {
            entries[index]?.book = OrderBook()
            entries[index]?.upstreamSeq = 0
            entries[index]?.recordSeq = 0
            entries[index]?.inStep = false
        }
    }
}
