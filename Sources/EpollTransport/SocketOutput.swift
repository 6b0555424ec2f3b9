import DequeModule
import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What a write to a socket came to.
public enum WriteOutcome: Equatable, Sendable {
    /// Everything owed was taken by the kernel.
    case drained
    /// The socket's buffer is full; the rest waits for it to drain (`EPOLLOUT`).
    case blocked
    /// The connection is broken (`EPIPE`, `ECONNRESET`, ...): close it.
    case failed(errno: CInt)
}

/// The bytes one connection owes its socket, and the one place that hands bytes to the kernel.
///
/// Frames stay in the buffers they came in, which for the fan-out are the shared frames every
/// subscriber gets: nothing is copied. One buffer goes out with one `send(2)`, several with one
/// `sendmsg(2)` of up to `maxIovecs` of them. Not `write(2)`: `send` takes `MSG_NOSIGNAL`, so a peer
/// that went away is an `EPIPE` rather than a signal, and it skips the file-position work of the
/// VFS layer, which the hub's profile under NIO (which writes with `write`/`writev`) showed at 4–5%
/// of its CPU.
///
/// A plain value with a deque inside: an empty output allocates nothing, and one that drains lets
/// its storage go.
public struct SocketOutput {
    /// At most this many buffers per `sendmsg`; more wait for the next call.
    public static let maxIovecs = 64

    private var pending: Deque<ByteBuffer> = []
    /// Bytes not yet taken by the kernel.
    public private(set) var byteCount = 0

    public init() {}

    public var isEmpty: Bool { pending.isEmpty }

    /// Queues `bytes` behind what is already owed; nothing is written until `write(to:)`.
    public mutating func append(_ bytes: ByteBuffer) {
        guard bytes.readableBytes > 0 else { return }
        byteCount += bytes.readableBytes
        pending.append(bytes)
    }

    /// Drops everything owed (the connection is closing without a goodbye).
    public mutating func removeAll() {
        pending = []
        byteCount = 0
    }

    /// Writes `bytes` behind what is already owed: straight from the caller's buffer when nothing is
    /// (the common case, which then touches no queue), and whatever the socket does not take waits.
    public mutating func write(_ bytes: ByteBuffer, to descriptor: CInt) -> WriteOutcome {
        guard pending.isEmpty else {
            append(bytes)
            return write(to: descriptor)
        }
        while true {
            let sent = bytes.withUnsafeReadableBytes { pointer in
                send(descriptor, pointer.baseAddress, pointer.count, CInt(MSG_NOSIGNAL | MSG_DONTWAIT))
            }
            if sent == bytes.readableBytes { return .drained }
            if sent >= 0 {
                var rest = bytes
                rest.moveReaderIndex(forwardBy: sent)
                append(rest)
                return .blocked
            }
            let error = errno
            if error == EINTR { continue }
            if error == EAGAIN || error == EWOULDBLOCK {
                append(bytes)
                return .blocked
            }
            return .failed(errno: error)
        }
    }

    /// Hands the kernel as much of what is owed as the socket takes, in order.
    public mutating func write(to descriptor: CInt) -> WriteOutcome {
        while let first = pending.first {
            let sent: Int
            if pending.count == 1 {
                sent = first.withUnsafeReadableBytes { bytes in
                    send(descriptor, bytes.baseAddress, bytes.count, CInt(MSG_NOSIGNAL | MSG_DONTWAIT))
                }
            } else {
                sent = sendPending(to: descriptor)
            }
            if sent < 0 {
                let error = errno
                if error == EINTR { continue }
                if error == EAGAIN || error == EWOULDBLOCK { return .blocked }
                return .failed(errno: error)
            }
            let wanted = consume(sent)
            if !wanted { return .blocked }
        }
        // The queue's storage goes with its last buffer: most connections queue only now and then
        // (a reply behind an update, a socket that filled once), and a drained deque would keep
        // its capacity, ~300 bytes, for the connection's life.
        pending = []
        return .drained
    }

    /// Takes `count` sent bytes off the front; returns false when the kernel took less than it was
    /// offered (its buffer is full, so there is no point in asking again before `EPOLLOUT`).
    private mutating func consume(_ count: Int) -> Bool {
        var left = count
        var offered = 0
        for buffer in pending.prefix(Self.maxIovecs) { offered += buffer.readableBytes }
        byteCount -= count
        while left > 0, var first = pending.first {
            if first.readableBytes <= left {
                left -= first.readableBytes
                pending.removeFirst()
            } else {
                first.moveReaderIndex(forwardBy: left)
                pending[pending.startIndex] = first
                left = 0
            }
        }
        return count == offered
    }

    /// One `sendmsg` of the first `maxIovecs` buffers. Each buffer's storage is retained while its
    /// pointer sits in the iovec array (the supported way to hold a `ByteBuffer`'s bytes across a
    /// call, as NIO's own `writev` does).
    private func sendPending(to descriptor: CInt) -> Int {
        let count = min(pending.count, Self.maxIovecs)
        return withUnsafeTemporaryAllocation(of: iovec.self, capacity: count) { iovecs in
            var storages: [Unmanaged<AnyObject>] = []
            storages.reserveCapacity(count)
            for (index, buffer) in pending.prefix(count).enumerated() {
                buffer.withUnsafeReadableBytesWithStorageManagement { bytes, storage in
                    storages.append(storage.retain())
                    iovecs[index] = iovec(
                        iov_base: UnsafeMutableRawPointer(mutating: bytes.baseAddress), iov_len: bytes.count)
                }
            }
            defer { for storage in storages { storage.release() } }
            var header = msghdr()
            header.msg_iov = iovecs.baseAddress
            header.msg_iovlen = count
            return sendmsg(descriptor, &header, CInt(MSG_NOSIGNAL | MSG_DONTWAIT))
        }
    }
}
