import FeedModel
import NATSClient
import NIOCore

/// Ticks to NATS messages and back, as `TickSubjects` lays out.
public enum TickMessages {
    public enum DecodeError: Error, Equatable, CustomStringConvertible {
        case missingEpoch
        case invalidEpoch(String)
        case invalidPayload(BinaryTickCodec.DecodeError)

        public var description: String {
            switch self {
            case .missingEpoch: "no \(TickSubjects.epochHeader) header"
            case .invalidEpoch(let text): "invalid epoch \(text.prefix(80))"
            case .invalidPayload(let error): "payload is not a tick batch: \(error)"
            }
        }
    }

    /// One tick's message on `ticks.<SYMBOL>`.
    public static func message(for tick: Tick, epoch: FeedEpoch, allocator: ByteBufferAllocator) -> NATSOutgoingMessage
    {
        var payload = allocator.buffer(capacity: BinaryTickCodec.headerSize + 64)
        BinaryTickCodec.encodeBatch(CollectionOfOne(tick), into: &payload)
        return NATSOutgoingMessage(
            subject: TickSubjects.subject(of: tick.symbol), payload: payload,
            headers: [(TickSubjects.epochHeader, epoch.rawValue)])
    }

    /// One book change's message on `books.<SYMBOL>`.
    public static func message(for book: BookRecord, epoch: FeedEpoch, allocator: ByteBufferAllocator)
        -> NATSOutgoingMessage
    {
        var payload = allocator.buffer(
            capacity: BinaryTickCodec.headerSize + 32 + 16 * (book.change.bids.count + book.change.asks.count))
        BinaryTickCodec.encodeBatch([Tick](), books: CollectionOfOne(book), into: &payload)
        return NATSOutgoingMessage(
            subject: TickSubjects.bookSubject(of: book.symbol), payload: payload,
            headers: [(TickSubjects.epochHeader, epoch.rawValue)])
    }

    /// One symbol's details on `instruments.<SYMBOL>`.
    public static func message(for instrument: InstrumentRecord, epoch: FeedEpoch, allocator: ByteBufferAllocator)
        -> NATSOutgoingMessage
    {
        var payload = allocator.buffer(capacity: BinaryTickCodec.headerSize + 128)
        BinaryTickCodec.encodeBatch([Tick](), instruments: CollectionOfOne(instrument), into: &payload)
        return NATSOutgoingMessage(
            subject: TickSubjects.instrumentSubject(of: instrument.symbol), payload: payload,
            headers: [(TickSubjects.epochHeader, epoch.rawValue)])
    }

    /// The most an answer carries: NATS servers refuse a message over their `max_payload` (1 MB by
    /// default). Whole books past it are left out; a hub that needs one waits for the next whole book.
    public static let maxAnswerBytes = 900 * 1024

    /// The answer to a snapshot request: every tick of `ticks`, then whole books, in one batch (at
    /// most `BinaryTickCodec.maxRecordsPerBatch` records and `maxAnswerBytes`; the rest are left
    /// out), to `replyTo`.
    public static func snapshotAnswer(
        _ ticks: [Tick], books: [BookRecord] = [], instruments: [InstrumentRecord] = [], epoch: FeedEpoch,
        replyTo: String, allocator: ByteBufferAllocator
    ) -> NATSOutgoingMessage {
        let kept = ticks.prefix(BinaryTickCodec.maxRecordsPerBatch)
        var bytes = BinaryTickCodec.headerSize + kept.count * 64
        // Details are small (~120 bytes each): they go first, within the bounds like the rest.
        var keptInstruments: [InstrumentRecord] = []
        for instrument in instruments where kept.count + keptInstruments.count < BinaryTickCodec.maxRecordsPerBatch {
            guard bytes + 128 <= maxAnswerBytes / 4 else { break }
            bytes += 128
            keptInstruments.append(instrument)
        }
        var keptBooks: [BookRecord] = []
        for book in books
        where kept.count + keptInstruments.count + keptBooks.count < BinaryTickCodec.maxRecordsPerBatch {
            let size = 48 + 16 * (book.change.bids.count + book.change.asks.count)
            guard bytes + size <= maxAnswerBytes else { break }
            bytes += size
            keptBooks.append(book)
        }
        var payload = allocator.buffer(capacity: bytes)
        BinaryTickCodec.encodeBatch(kept, books: keptBooks, instruments: keptInstruments, into: &payload)
        return NATSOutgoingMessage(
            subject: replyTo, payload: payload, headers: [(TickSubjects.epochHeader, epoch.rawValue)])
    }

    /// The epoch and records of a tick or book message, or a snapshot answer. `known`: the epoch the
    /// caller holds, taken as is when the header names it (nearly always), without checking the text again.
    public static func decode(_ message: NATSMessage, known: FeedEpoch? = nil) throws(DecodeError) -> (
        epoch: FeedEpoch, batch: FeedBatch
    ) {
        guard let text = message.header(TickSubjects.epochHeader) else { throw .missingEpoch }
        guard let epoch = text == known?.rawValue ? known : FeedEpoch(text) else { throw .invalidEpoch(text) }
        do {
            return (epoch, try BinaryTickCodec.decodeFeedBatch(message.payload))
        } catch {
            throw .invalidPayload(error)
        }
    }
}
