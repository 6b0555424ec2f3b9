import FeedModel
import NIOCore

/// The publisher's book path: each change applied to the symbol's whole book, and a `bookUpdate`
/// per depth whose levels it changed (`PublisherBooks`).
extension TickPublisher {
    /// Applies each book change, numbers the book streams whose levels it changed, and transmits
    /// their `bookUpdate`s: the cache first, the ring second, as for ticks; the frames of a depth
    /// nobody follows are not built (`ChannelDemand`), its stream is numbered and cached all the same.
    func publishBookSlice(_ updates: ArraySlice<BookFeedUpdate>) {
        // Each message's checksum is its book's (after the change), worked out only for the frames
        // built: `bookOf[i]` indexes `changedBooks`, one per change that numbered a stream.
        var messages: [BookUpdate] = []
        var streams: [SymbolID] = []
        var bookOf: [Int] = []
        var changedBooks: [OrderBook] = []
        var latest: [(SymbolID, BookSnapshot)] = []
        var refused: UInt64 = 0, stale: UInt64 = 0, gaps: UInt64 = 0, awaiting: UInt64 = 0
        var records: [BookRecord] = []
        for update in updates {
            let book: OrderBook, changes: [PublisherBooks.StreamChange]
            switch books.apply(update, directory: directory) {
            case let .applied(after, streamChanges, record):
                (book, changes) = (after, streamChanges)
                if !bookTaps.isEmpty { records.append(record) }
            case .stale:
                stale += 1
                continue
            case .awaitingWholeBook(let skipped):
                gaps &+= skipped
                awaiting += 1
                continue
            case .refused:
                refused += 1
                continue
            }
            if !changes.isEmpty { changedBooks.append(book) }
            for change in changes {
                let seq = numbering.next(change.stream)
                streams.append(change.stream)
                bookOf.append(changedBooks.count - 1)
                messages.append(
                    BookUpdate(
                        symbol: update.symbol, depth: change.depth, seq: seq, timestamp: update.timestamp,
                        delta: change.delta, checksum: 0))
                latest.append(
                    (
                        change.stream,
                        BookSnapshot(
                            symbol: update.symbol, depth: change.depth, seq: seq,
                            timestamp: update.timestamp, book: book)
                    ))
            }
        }
        if refused > 0 { counters.bookUpdatesRefused.wrappingIncrement(by: refused, ordering: .relaxed) }
        if stale > 0 { counters.upstreamStale.wrappingIncrement(by: stale, ordering: .relaxed) }
        if gaps > 0 { counters.upstreamGaps.wrappingIncrement(by: gaps, ordering: .relaxed) }
        if awaiting > 0 { counters.bookUpdatesAwaitingBook.wrappingIncrement(by: awaiting, ordering: .relaxed) }
        counters.bookUpdatesIn.wrappingIncrement(
            by: UInt64(updates.count) - refused - stale - awaiting, ordering: .relaxed)
        if !records.isEmpty { for tap in bookTaps { tap(records) } }
        guard !messages.isEmpty else { return }
        lastValues.applyBooks(latest)
        let publishedAt = eventLoop.now.uptimeNanoseconds
        // Asked after the cache was written: see `ChannelDemand`.
        let wanted = OrderBook.depths.map { demand?.wants(.book(depth: $0)) ?? true }
        var built: UInt64 = 0
        var checksums = [UInt32?](repeating: nil, count: changedBooks.count)
        for (index, var message) in messages.enumerated()
        where wanted[OrderBook.depths.firstIndex(of: message.depth) ?? 0] {
            let bookIndex = bookOf[index]
            if checksums[bookIndex] == nil { checksums[bookIndex] = changedBooks[bookIndex].checksum }
            message.checksum = checksums[bookIndex]!
            let stream = streams[index]
            transmit(
                .bookUpdate(message),
                RecordHeader(symbolID: stream.rawValue, seq: message.seq, publishedAt: publishedAt))
            built += 1
        }
        counters.framesEncoded.wrappingIncrement(by: built, ordering: .relaxed)
        publishCompressionTally()
        counters.lastBatchAtNanos.store(Timestamp.now().nanosecondsSinceEpoch, ordering: .relaxed)
    }
}
