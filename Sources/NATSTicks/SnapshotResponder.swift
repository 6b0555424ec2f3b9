import FeedModel
import NATSClient
import NIOCore

/// Answers warm-start requests (`TickSubjects.snapshotRequest`) on a NATS client.
///
/// Every live publisher and every warm hub answers; the requester takes the first answer and NATS
/// drops the rest. That is why any node can warm another: a joining hub needs no publisher to be
/// up, only one peer that has the values.
public enum SnapshotResponder {
    /// Subscribes to the snapshot subject. `answer` runs on the client's loop for each request and
    /// returns the epoch and what to send (the latest ticks and whole books), or nil to stay silent
    /// (a hub not yet warm itself).
    @discardableResult
    public static func serve(on client: NATSClient, answer: @escaping @Sendable () -> (FeedEpoch, LastTicks)?)
        -> EventLoopFuture<UInt64>
    {
        client.subscribe(TickSubjects.snapshotRequest) { request in
            guard let replyTo = request.replyTo, let (epoch, latest) = answer() else { return }
            client.publish([
                TickMessages.snapshotAnswer(
                    latest.ticks, books: latest.wholeBooks(at: .now()), instruments: latest.instruments,
                    epoch: epoch, replyTo: replyTo, allocator: ByteBufferAllocator())
            ])
        }
    }
}
