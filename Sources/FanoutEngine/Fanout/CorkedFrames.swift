import NIOCore

/// The frames one drain has for one subscriber, held back so that they reach the connection as one
/// write: after uWebSockets' cork, which sends everything a socket gets in one loop iteration with
/// one syscall. Each frame handed to NIO is a pending write of its own to account and an iovec of
/// its own in the `writev`; several frames copied into one buffer (a few hundred bytes of memcpy)
/// cost one of each.
///
/// The first frame is kept as it is: the shared frame, with no copy and no allocation, which is
/// all a subscriber gets per drain at light load. A second one starts a buffer of the subscriber's
/// own. Past `spillBytes` the frames go to the sink at once (without a flush), so that the
/// connection's writability, which the sink reports as its backlog grows, is never more than that
/// behind what the fan-out has queued for it.
struct CorkedFrames {
    static let spillBytes = 16 * 1024

    private var frames: ByteBuffer?
    private var owned = false

    var isEmpty: Bool { frames == nil }

    /// Adds `frame`; returns frames that must go to the sink now (the cork was full).
    mutating func add(_ frame: ByteBuffer, allocator: ByteBufferAllocator) -> ByteBuffer? {
        guard var held = frames else {
            frames = frame
            return nil
        }
        if held.readableBytes + frame.readableBytes > Self.spillBytes {
            frames = frame
            owned = false
            return held
        }
        if !owned {
            var buffer = allocator.buffer(capacity: max(held.readableBytes + frame.readableBytes, 512))
            buffer.writeImmutableBuffer(held)
            held = buffer
            owned = true
        }
        frames = nil  // so the write below appends in place instead of copying a shared buffer
        held.writeImmutableBuffer(frame)
        frames = held
        return nil
    }

    /// Everything held, and empty afterwards.
    mutating func take() -> ByteBuffer? {
        defer {
            frames = nil
            owned = false
        }
        return frames
    }
}
