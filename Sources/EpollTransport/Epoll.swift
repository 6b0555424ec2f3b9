import CEpoll
#if canImport(Glibc)
import Glibc
#endif

/// A system call that failed, with its errno.
public struct SystemCallError: Error, CustomStringConvertible, Equatable {
    public let call: String
    public let errno: CInt

    public init(_ call: String, errno: CInt) {
        self.call = call
        self.errno = errno
    }

    public var description: String { "\(call): \(String(cString: strerror(errno))) (errno \(errno))" }
}

/// The events one registration asks epoll for, and the ones it reports.
public struct EpollEvents: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let readable = EpollEvents(rawValue: EPOLLIN.rawValue)
    public static let writable = EpollEvents(rawValue: EPOLLOUT.rawValue)
    /// The peer shut its side down (reported with `readable`; reading returns 0 once the rest is read).
    public static let peerClosed = EpollEvents(rawValue: EPOLLRDHUP.rawValue)
    public static let error = EpollEvents(rawValue: EPOLLERR.rawValue)
    public static let hangUp = EpollEvents(rawValue: EPOLLHUP.rawValue)
    /// Report a change of state once, not for as long as it lasts: a reader reads until the socket
    /// has nothing more (or remembers that it stopped early), and a writer hears `writable` only
    /// after the socket was full. One registration then serves a connection's whole life, with no
    /// `epoll_ctl` per full or drained buffer.
    public static let edgeTriggered = EpollEvents(rawValue: EPOLLET.rawValue)
}

/// One epoll instance: the thinnest layer over its system calls, so that everything above it reads
/// as Swift. Registrations carry a 64-bit key that comes back with their events (`EpollLoop` puts a
/// source and a token in it), so no object is kept per descriptor.
struct Epoll: ~Copyable {
    let descriptor: CInt

    init() throws(SystemCallError) {
        let descriptor = epoll_create1(CInt(EPOLL_CLOEXEC))
        guard descriptor >= 0 else { throw SystemCallError("epoll_create1", errno: errno) }
        self.descriptor = descriptor
    }

    deinit { close(descriptor) }

    func add(_ fd: CInt, events: EpollEvents, key: UInt64) throws(SystemCallError) {
        try control(EPOLL_CTL_ADD, fd, events: events, key: key)
    }

    func modify(_ fd: CInt, events: EpollEvents, key: UInt64) throws(SystemCallError) {
        try control(EPOLL_CTL_MOD, fd, events: events, key: key)
    }

    /// Not needed before `close(fd)` of a descriptor that has no duplicate: closing removes it.
    func remove(_ fd: CInt) {
        _ = epoll_ctl(descriptor, EPOLL_CTL_DEL, fd, nil)
    }

    private func control(_ operation: CInt, _ fd: CInt, events: EpollEvents, key: UInt64) throws(SystemCallError) {
        var event = epoll_event()
        event.events = events.rawValue
        event.data.u64 = key
        guard epoll_ctl(descriptor, operation, fd, &event) == 0 else {
            throw SystemCallError("epoll_ctl", errno: errno)
        }
    }

    /// Waits up to `timeoutNanoseconds` (nil: until an event) for events, into `events`; returns how
    /// many came. Nanosecond timeouts (`epoll_pwait2`), since timers of a millisecond or less are
    /// common here (the simulated feed at high rates, drain deferral).
    func wait(into events: UnsafeMutableBufferPointer<epoll_event>, timeoutNanoseconds: Int64?) -> Int {
        let count: CInt
        if let timeoutNanoseconds {
            var timeout = timespec(
                tv_sec: Int(timeoutNanoseconds / 1_000_000_000), tv_nsec: Int(timeoutNanoseconds % 1_000_000_000))
            count = epoll_pwait2(descriptor, events.baseAddress, CInt(events.count), &timeout, nil)
        } else {
            count = epoll_pwait2(descriptor, events.baseAddress, CInt(events.count), nil, nil)
        }
        return count < 0 ? 0 : Int(count)  // EINTR: the caller's loop comes round again
    }
}
