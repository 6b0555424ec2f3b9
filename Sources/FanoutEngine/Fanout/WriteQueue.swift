import DequeModule
import NIOCore

/// The subscribers of one loop that have frames corked for them (`CorkedFrames`), in the order they
/// got their first, waiting for their write: their frames handed to the sink in one piece, and the
/// sink flushed. A subscriber is queued once however many frames it gets meanwhile, so it costs one
/// socket write per turn, the lever on loopback, where a write costs ~10 µs almost whatever its size.
///
/// The queue outlives a drain: a loop writes as many subscribers as its drain budget allows, then
/// serves its sockets, then goes on (`LoopFanout.drain`). Writing is done by the caller, one
/// subscriber at a time (`next()`), under the re-entrancy rule (`LoopFanout`). Confined to the loop.
struct WriteQueue {
    private var waiting: Deque<Subscriber> = []
    private let allocator: ByteBufferAllocator

    init(allocator: ByteBufferAllocator) {
        self.allocator = allocator
    }

    var isEmpty: Bool { waiting.isEmpty }
    var count: Int { waiting.count }

    /// Corks `frame` for `subscriber` and queues it for a write, unless it is queued already.
    /// Returns frames that spilled out of the cork: the caller hands them to the subscriber's sink
    /// at once, after this call (the re-entrancy rule: no write in a mutation).
    mutating func add(_ frame: ByteBuffer, for subscriber: Subscriber) -> ByteBuffer? {
        let spilled = subscriber.corked.add(frame, allocator: allocator)
        if !subscriber.awaitingWrite {
            subscriber.awaitingWrite = true
            waiting.append(subscriber)
        }
        return spilled
    }

    /// The next subscriber whose write is still due (one written early, or removed, is skipped).
    mutating func next() -> Subscriber? {
        while let subscriber = waiting.popFirst() {
            if subscriber.awaitingWrite { return subscriber }
        }
        return nil
    }

    /// Hands `subscriber`'s corked frames to its sink and flushes it, whether or not its turn came.
    static func write(_ subscriber: Subscriber) {
        subscriber.awaitingWrite = false
        subscriber.wroteSinceLastCheck = true
        if let frames = subscriber.corked.take() { subscriber.sink.write(frames) }
        subscriber.sink.flush()
    }

    /// Hands `subscriber`'s corked frames to its sink without a flush (its owner is about to write
    /// and flush a message of its own, which must not overtake them). Its turn in the queue lapses.
    static func release(_ subscriber: Subscriber) {
        guard subscriber.awaitingWrite else { return }
        subscriber.awaitingWrite = false
        subscriber.wroteSinceLastCheck = true
        if let frames = subscriber.corked.take() { subscriber.sink.write(frames) }
    }

    /// Drops what is corked for a subscriber that is going away; its turn in the queue lapses.
    static func discard(_ subscriber: Subscriber) {
        subscriber.awaitingWrite = false
        _ = subscriber.corked.take()
    }
}
