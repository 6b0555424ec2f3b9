import NIOCore

/// Where a subscriber's frames go. The server implements it with a handler that sits next to the
/// channel's head, so pre-built frames bypass the WebSocket encoder.
public protocol FrameSink: AnyObject {
    /// False while the channel's outbound buffer is above its high-water mark.
    var isWritable: Bool { get }
    /// Queues a complete WebSocket frame; nothing reaches the socket until `flush()`.
    func write(_ frame: ByteBuffer)
    func flush()
}

/// One connection's subscription state on its event loop. Confined to that loop.
public final class Subscriber {
    public let sink: any FrameSink
    /// Updates written to this subscriber.
    public internal(set) var delivered: UInt64 = 0
    /// Updates skipped because the channel was not writable.
    public internal(set) var dropped: UInt64 = 0
    /// True when something was written since the owner last cleared it; drives heartbeats.
    public var wroteSinceLastCheck = false

    /// Symbols with at least one update skipped since the subscriber last caught up. This is the
    /// seam for conflation: on drain, the latest value of each is re-sent from the last-value cache.
    public internal(set) var staleSymbols: Set<SymbolID> = []

    /// Position of this subscriber in each of its symbols' subscriber lists (`SubscriptionIndex`).
    var positions: [SymbolID: Int] = [:]
    /// Set while this subscriber has writes that await the end-of-batch flush.
    var awaitingFlush = false

    public init(sink: any FrameSink) {
        self.sink = sink
    }

    public var subscriptionCount: Int { positions.count }
    public func isSubscribed(to id: SymbolID) -> Bool { positions[id] != nil }
}
