/// The subscribers a loop wrote to since its last flush: each is flushed once, however many frames
/// it was given, so a subscriber costs one socket write per drain (the lever on loopback, where a
/// write costs ~10 µs almost whatever its size). Confined to the loop.
struct FlushBatch {
    private var subscribers: [Subscriber] = []

    var isEmpty: Bool { subscribers.isEmpty }

    mutating func add(_ subscriber: Subscriber) {
        guard !subscriber.awaitingFlush else { return }
        subscriber.awaitingFlush = true
        subscribers.append(subscriber)
    }

    /// Flushes every subscriber added since the last call; returns how many.
    mutating func flush() -> Int {
        let count = subscribers.count
        for subscriber in subscribers {
            subscriber.awaitingFlush = false
            subscriber.wroteSinceLastCheck = true
            subscriber.sink.flush()
        }
        subscribers.removeAll(keepingCapacity: true)
        return count
    }
}
