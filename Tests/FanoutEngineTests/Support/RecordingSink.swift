@testable import FanoutEngine
import FeedModel
import Foundation
import NIOCore
import NIOEmbedded
import Testing

final class RecordingSink: FrameSink {
    /// The subscriber this sink reports writability to, as the server's sink does.
    private weak var subscriber: Subscriber?
    /// Whether the "socket" takes more; setting it tells the subscriber, as a writability event would.
    var isWritable = true {
        didSet { subscriber?.isWritable = isWritable }
    }
    /// One entry per frame, also when the fan-out hands several over in one write.
    var frames: [ByteBuffer] = []
    /// Calls to `write` (each a batch of one or more frames).
    var writes = 0
    var flushes = 0
    /// When set, the sink turns unwritable after this many more frames (a socket filling up).
    var unwritableAfterFrames: Int?
    private var taken = 0
    /// When set, each write's time is recorded in `writeTimes` (a loop's clock, for rate checks).
    var clock: (() -> NIODeadline)?
    var writeTimes: [NIODeadline] = []

    func attach(_ subscriber: Subscriber) {
        self.subscriber = subscriber
        subscriber.isWritable = isWritable
    }

    func write(_ batch: ByteBuffer) {
        writes += 1
        for frame in Self.frames(in: batch) {
            frames.append(frame)
            if let clock { writeTimes.append(clock()) }
            if let limit = unwritableAfterFrames {
                unwritableAfterFrames = limit - 1
                if limit - 1 <= 0 { isWritable = false }
            }
        }
    }
    /// When set, a flush drains the socket: the sink is writable again, and nobody is told (as when
    /// NIO coalesces a full-then-drained change into no event).
    var writableAgainOnFlush = false
    func flush() {
        flushes += 1
        if writableAgainOnFlush {
            // Silently: nobody is told, as when NIO reports no change; but the subscriber's stored
            // flag follows, as RawFrameWriter's does when a flush crosses back under the mark.
            becomeWritableSilently()
            subscriber?.isWritable = true
        }
    }

    var connectionIsWritable: Bool { isWritable }

    /// The socket drains and takes more, and nobody is told (no writability event comes).
    func becomeWritableSilently() {
        let subscriber = self.subscriber
        self.subscriber = nil
        isWritable = true
        self.subscriber = subscriber
    }

    /// Splits concatenated server frames (unmasked, 7/16/64-bit lengths).
    static func frames(in batch: ByteBuffer) -> [ByteBuffer] { ServerFrames.split(batch) }

    /// Texts written since the last call.
    func takeTexts() -> [String] {
        defer { taken = frames.count }
        return frames[taken...].map(Self.text(of:))
    }

    /// The JSON payloads written, without their WebSocket headers.
    var texts: [String] { frames.map(Self.text(of:)) }

    static func text(of frame: ByteBuffer) -> String {
        String(buffer: ServerFrames.payload(of: frame))
    }
}
