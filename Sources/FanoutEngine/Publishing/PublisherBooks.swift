import FeedModel

/// The publisher's order books: each symbol's whole book (up to `OrderBook.maxDepth` levels per
/// side), and the messages a change gives its book streams. Confined to the publisher's loop.
///
/// A change is applied to the whole book, then each depth's view is compared before and after
/// (`OrderBook.delta(from:depth:)`): a stream gets an update, numbered by the caller, only when the
/// levels it shows changed. A change deep in the book is thus not sent to depth-10 subscribers.
struct PublisherBooks {
    private struct Entry {
        var book = OrderBook()
        /// The publisher's last book seq for the symbol (0: none yet).
        var upstreamSeq: UInt64 = 0
        /// The symbol's book streams, parallel to `OrderBook.depths`.
        let streams: [SymbolID]
    }

    /// What one change gives one book stream.
    struct StreamChange {
        var stream: SymbolID
        var depth: Int
        var delta: BookDelta
    }

    private var entries: [Entry?] = []

    /// What happened to one change.
    enum Outcome {
        /// Applied: the book after it, and each stream's delta (only streams whose levels changed);
        /// `skipped` is how many of the publisher's changes its seq jumped over.
        case applied(book: OrderBook, changes: [StreamChange], skipped: UInt64)
        /// At or below the publisher's last book seq: dropped.
        case stale
        /// Refused, the book unchanged: a level refused (`BookError`), or not a symbol's id.
        case refused
    }

    /// Applies `update` to its symbol's book.
    mutating func apply(_ update: BookFeedUpdate, directory: SymbolDirectory) -> Outcome {
        let index = update.symbolID.index
        if index >= entries.count { entries.append(contentsOf: repeatElement(nil, count: index + 1 - entries.count)) }
        if entries[index] == nil {
            guard let streams = directory.bookStreams(of: update.symbolID) else { return .refused }
            entries[index] = Entry(streams: streams)
        }
        let last = entries[index]!.upstreamSeq
        var skipped: UInt64 = 0
        // A whole book is a fresh start (the publisher restarted, or lost its place): taken whatever
        // its seq, which the next changes follow.
        if let seq = update.upstreamSeq, !update.replacesBook {
            guard seq > last else { return .stale }
            // The first change seen is where this hub joined, not a gap. Both below 2^64: no overflow.
            if last > 0 { skipped = seq - last - 1 }
        }
        let before = entries[index]!.book
        var after = update.replacesBook ? OrderBook() : before
        do {
            try after.apply(update.change)
        } catch {
            return .refused
        }
        entries[index]!.book = after
        if let seq = update.upstreamSeq { entries[index]!.upstreamSeq = seq }
        var changes: [StreamChange] = []
        for (depth, stream) in zip(OrderBook.depths, entries[index]!.streams) {
            let delta = after.delta(from: before, depth: depth)
            if !delta.isEmpty { changes.append(StreamChange(stream: stream, depth: depth, delta: delta)) }
        }
        return .applied(book: after, changes: changes, skipped: skipped)
    }

    /// Forgets every book (a feed's new epoch: its publisher sends its books again).
    mutating func removeAll() {
        for index in entries.indices {
            entries[index]?.book = OrderBook()
            entries[index]?.upstreamSeq = 0
        }
    }
}
