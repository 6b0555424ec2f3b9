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

    /// Applies `update` to its symbol's book; returns the book after it, and each stream's delta
    /// (only streams whose levels changed). Throws, with the book unchanged, if a level is refused.
    mutating func apply(_ update: BookFeedUpdate, directory: SymbolDirectory) throws(BookError) -> (book: OrderBook, changes: [StreamChange])? {
        let index = update.symbolID.index
        if index >= entries.count { entries.append(contentsOf: repeatElement(nil, count: index + 1 - entries.count)) }
        if entries[index] == nil {
            guard let streams = directory.bookStreams(of: update.symbolID) else { return nil }
            entries[index] = Entry(streams: streams)
        }
        let before = entries[index]!.book
        var after = update.replacesBook ? OrderBook() : before
        try after.apply(update.change)
        entries[index]!.book = after
        var changes: [StreamChange] = []
        for (depth, stream) in zip(OrderBook.depths, entries[index]!.streams) {
            let delta = after.delta(from: before, depth: depth)
            if !delta.isEmpty { changes.append(StreamChange(stream: stream, depth: depth, delta: delta)) }
        }
        return (after, changes)
    }

    /// Forgets every book (a feed's new epoch: its publisher sends its books again).
    mutating func removeAll() {
        for index in entries.indices { entries[index]?.book = OrderBook() }
    }
}
