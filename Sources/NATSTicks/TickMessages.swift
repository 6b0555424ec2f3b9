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
    public static func message(for tick: Tick, epoch: FeedEpoch, allocator: ByteBufferAllocator) -> NATSOutgoingMessage {
        var payload = allocator.buffer(capacity: BinaryTickCodec.headerSize + 64)
        BinaryTickCodec.encodeBatch(CollectionOfOne(tick), into: &payload)
        return NATSOutgoingMessage(subject: TickSubjects.subject(of: tick.symbol), payload: payload,
                                   headers: [(TickSubjects.epochHeader, epoch.rawValue)])
    }

    /// The answer to a snapshot request: every tick of `ticks` in one batch (at most
    /// `BinaryTickCodec.maxRecordsPerBatch`; the rest are left out), to `replyTo`.
    public static func snapshotAnswer(_ ticks: [Tick], epoch: FeedEpoch, replyTo: String, allocator: ByteBufferAllocator) -> NATSOutgoingMessage {
        let kept = ticks.prefix(BinaryTickCodec.maxRecordsPerBatch)
        var payload = allocator.buffer(capacity: BinaryTickCodec.headerSize + kept.count * 64)
        BinaryTickCodec.encodeBatch(kept, into: &payload)
        return NATSOutgoingMessage(subject: replyTo, payload: payload, headers: [(TickSubjects.epochHeader, epoch.rawValue)])
    }

    /// The epoch and ticks of a tick message or a snapshot answer. `known`: the epoch the caller
    /// holds, taken as is when the header names it (nearly always), without checking the text again.
    public static func decode(_ message: NATSMessage, known: FeedEpoch? = nil) throws(DecodeError) -> (epoch: FeedEpoch, ticks: [Tick]) {
        guard let text = message.header(TickSubjects.epochHeader) else { throw .missingEpoch }
        guard let epoch = text == known?.rawValue ? known : FeedEpoch(text) else { throw .invalidEpoch(text) }
        do {
            return (epoch, try BinaryTickCodec.decodeBatch(message.payload))
        } catch {
            throw .invalidPayload(error)
        }
    }
}
