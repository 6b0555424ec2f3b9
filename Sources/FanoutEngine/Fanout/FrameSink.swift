import NIOCore

/// Where a subscriber's frames go. The server implements it with a handler that sits next to the
/// channel's head, so pre-built frames bypass the WebSocket encoder.
public protocol FrameSink: AnyObject {
    /// Called once, by `Subscriber.init`. From then on the sink keeps `subscriber.isWritable` equal
    /// to whether its connection takes more frames (its backlog is under the high-water mark),
    /// including when a `write` crosses the mark.
    func attach(_ subscriber: Subscriber)
    /// Queues one or more complete WebSocket frames; nothing reaches the socket until `flush()`.
    func write(_ frames: ByteBuffer)
    func flush()
    /// Whether the connection takes more frames, asked of the connection itself rather than of
    /// `Subscriber.isWritable`. The fan-out asks only where an event may have been missed: the
    /// owed check of a subscriber that still owes latest values (`Conflator`).
    var connectionIsWritable: Bool { get }
}
