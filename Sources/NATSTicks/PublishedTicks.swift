import FeedModel
import NATSClient
import NIOCore

/// A publisher's side of the contract: the messages for each batch of numbered ticks and book
/// changes, and the latest of them (books whole) kept for warm-start answers (`SnapshotResponder`). Used by `feedsim
/// publish --nats` and by a hub with `--publish-nats`, so both publish alike.
public struct PublishedTicks: Sendable {
    public private(set) var latest = LastTicks()
    private let allocator = ByteBufferAllocator()

    public init() {}

    /// One message per tick, under `epoch`; each tick is also kept as its symbol's latest.
    public mutating func messages(for ticks: [Tick], epoch: FeedEpoch) -> [NATSOutgoingMessage] {
        var messages: [NATSOutgoingMessage] = []
        messages.reserveCapacity(ticks.count)
        for tick in ticks {
            latest.record(tick)
            messages.append(TickMessages.message(for: tick, epoch: epoch, allocator: allocator))
        }
        return messages
    }

    /// One message per symbol's details, under `epoch`; each is also kept.
    public mutating func messages(for instruments: [InstrumentRecord], epoch: FeedEpoch) -> [NATSOutgoingMessage] {
        instruments.map { instrument in
            latest.record(instrument)
            return TickMessages.message(for: instrument, epoch: epoch, allocator: allocator)
        }
    }

    /// One message per book change, under `epoch`; each is also kept in its symbol's book.
    public mutating func messages(for books: [BookRecord], epoch: FeedEpoch) -> [NATSOutgoingMessage] {
        books.map { book in
            latest.record(book)
            return TickMessages.message(for: book, epoch: epoch, allocator: allocator)
        }
    }
}
