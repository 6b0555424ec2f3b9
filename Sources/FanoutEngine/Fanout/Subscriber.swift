import NIOCore

/// Where a subscriber's frames go. The server implements it with a handler that sits next to the
/// channel's head, so pre-built frames bypass the WebSocket encoder.
public protocol FrameSink: AnyObject {
    /// False while the connection's backlog (its outbound buffer) is above its high-water mark.
    var isWritable: Bool { get }
    /// Queues a complete WebSocket frame; nothing reaches the socket until `flush()`.
    func write(_ frame: ByteBuffer)
    func flush()
}

/// How a subscriber's connection takes messages, from its WebSocket handshake.
public enum MessageEncoding {
    /// Plain frames.
    case plain
    /// permessage-deflate without server context takeover: the shared compressed frames.
    case sharedDeflate
    /// permessage-deflate with this connection's own compressor (context takeover): every frame is
    /// compressed for this subscriber alone, in the order it is written.
    case dedicatedDeflate(MessageDeflater)
    /// Subprotocol `tickerhub.v1.zstd`: every message a binary frame holding one zstd frame,
    /// compressed with the hub's shared dictionary (the same frames for every such subscriber).
    case zstd

    /// For logs.
    public var name: String {
        switch self {
        case .plain: "plain"
        case .sharedDeflate: "permessage-deflate shared"
        case .dedicatedDeflate: "permessage-deflate dedicated"
        case .zstd: "zstd"
        }
    }
}

/// One connection's subscription state and counters on its event loop. Confined to that loop.
public final class Subscriber {
    public let sink: any FrameSink
    public let encoding: MessageEncoding
    /// Updates written to this subscriber: live ones and conflated latest values.
    public internal(set) var delivered: UInt64 = 0
    /// Updates this subscriber will never get because it (or its loop) fell behind, counted when the
    /// update that jumps over them is sent. With `throttled`, it equals the sum of the seq gaps the
    /// client has seen.
    public internal(set) var dropped: UInt64 = 0
    /// Latest-value (`conflated`) messages sent in place of updates the socket could not take.
    public internal(set) var conflated: UInt64 = 0
    /// Updates skipped because a subscription asked for at most one per interval (`maxFrequency`),
    /// counted like `dropped` when the update that jumps over them is sent. `dropped + throttled`
    /// is the sum of the seq gaps the client has seen.
    public internal(set) var throttled: UInt64 = 0
    /// True when something was written since the owner last cleared it; drives heartbeats.
    public var wroteSinceLastCheck = false

    /// This subscriber's subscriptions on its loop, by symbol.
    var subscriptions: [SymbolID: Subscription] = [:]
    /// Subscriptions whose latest value is owed, oldest first; each has `isStale` set.
    var staleSubscriptions: [Subscription] = []
    /// Set while this subscriber has writes that await the end-of-batch flush.
    var awaitingFlush = false

    public init(sink: any FrameSink, encoding: MessageEncoding = .plain) {
        self.sink = sink
        self.encoding = encoding
    }

    public var subscriptionCount: Int { subscriptions.count }
    /// Symbols whose latest value is owed to this subscriber once its socket drains.
    public var staleCount: Int { staleSubscriptions.count }
    public func isSubscribed(to id: SymbolID) -> Bool { subscriptions[id] != nil }

    /// Returns true when this made the subscriber owe something it did not owe before.
    @discardableResult
    func markStale(_ subscription: Subscription) -> Bool {
        guard !subscription.isStale else { return false }
        subscription.isStale = true
        staleSubscriptions.append(subscription)
        return staleSubscriptions.count == 1
    }

    func forgetStale(_ subscription: Subscription) {
        guard subscription.isStale else { return }
        subscription.isStale = false
        if let offset = staleSubscriptions.firstIndex(where: { $0 === subscription }) {
            staleSubscriptions.remove(at: offset)
        }
    }
}
