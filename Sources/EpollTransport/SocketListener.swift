import CEpoll
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// The owned transport's listening socket: it accepts on its loop and hands each new connection's
/// descriptor (non-blocking, close-on-exec) to `accepted`, which then owns it.
///
/// - Fairness: at most `acceptsPerWake` per readiness, so a storm of connects cannot hold the loop
///   away from the sockets it serves (the rest wait in the backlog for the next turn).
/// - Out of descriptors (`EMFILE`, `ENFILE`, or out of memory): the listener leaves epoll for `pause`
///   and then tries again, rather than being woken by a readable backlog it cannot take from, over
///   and over (the hub's NIO listener does the same, `AcceptBackoff`). Each time is counted.
/// - A connection that went away before it was accepted (`ECONNABORTED`) is skipped.
public final class SocketListener: EpollSource, @unchecked Sendable {
    // @unchecked: confined to `loop` after init.

    public static let pause = TimeAmount.milliseconds(250)

    private let loop: EpollLoop
    private let descriptor: CInt
    private let acceptsPerWake: Int
    private let accepted: (CInt) -> Void
    private let exhausted: (CInt) -> Void
    private var source: UInt8 = 0
    private var paused = false
    private var closed = false
    /// Times `accept` found no descriptor to give (and the listener paused).
    public private(set) var exhaustions = 0
    /// The port it listens on (the one the kernel chose, for port 0).
    public let port: Int

    /// Listens on `host:port` (an IPv4 or IPv6 address, or a name: its first address); call on the loop.
    /// `exhausted` is told each time the listener pauses, with the errno (for the log and a metric).
    public init(
        loop: EpollLoop, host: String, port: Int, backlog: CInt = 4096, acceptsPerWake: Int = 256,
        exhausted: @escaping (CInt) -> Void = { _ in }, accepted: @escaping (CInt) -> Void
    ) throws {
        loop.assertInEventLoop()
        self.loop = loop
        self.acceptsPerWake = acceptsPerWake
        self.accepted = accepted
        self.exhausted = exhausted
        // The first address the host resolves to, as NIO's `bind(host:port:)` takes: an IPv4 or
        // IPv6 literal, or a name ("localhost").
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = CInt(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV
        var resolved: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &resolved) == 0, let first = resolved else {
            throw SystemCallError("getaddrinfo(\(host))", errno: EINVAL)
        }
        defer { freeaddrinfo(resolved) }
        let fd = socket(
            first.pointee.ai_family,
            CInt(SOCK_STREAM.rawValue) | CInt(SOCK_NONBLOCK.rawValue) | CInt(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SystemCallError("socket", errno: errno) }
        var one: CInt = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<CInt>.size))
        var local = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let bound =
            bind(fd, first.pointee.ai_addr, first.pointee.ai_addrlen) == 0 && listen(fd, backlog) == 0
            && withUnsafeMutablePointer(to: &local) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) == 0 }
            }
        guard bound else {
            let error = errno
            close(fd)
            throw SystemCallError("bind/listen \(host):\(port)", errno: error)
        }
        descriptor = fd
        // The port sits at the same offset in sockaddr_in and sockaddr_in6.
        let networkPort = withUnsafePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_port }
        }
        self.port = Int(UInt16(bigEndian: networkPort))
        source = loop.addSource(self)
        do {
            try loop.register(fd, events: .readable, source: source, token: 0)
        } catch {
            close(fd)
            throw error
        }
    }

    public func ready(token: UInt64, events: EpollEvents) {
        guard !paused, !closed else { return }
        for _ in 0..<acceptsPerWake {
            let fd = accept4(descriptor, nil, nil, CInt(SOCK_NONBLOCK.rawValue) | CInt(SOCK_CLOEXEC.rawValue))
            if fd >= 0 {
                accepted(fd)
                continue
            }
            switch errno {
            case EAGAIN, EWOULDBLOCK:
                return
            case EINTR, ECONNABORTED, EPROTO:
                continue
            case EMFILE, ENFILE, ENOBUFS, ENOMEM:
                let error = errno
                pauseAccepting()
                exhausted(error)
                return
            default:
                return  // level-triggered: a lasting error shows up again on the next turn
            }
        }
    }

    private func pauseAccepting() {
        exhaustions += 1
        paused = true
        loop.deregister(descriptor)
        loop.scheduleTask(in: Self.pause) { [self] in
            paused = false
            guard !closed else { return }
            try? loop.register(descriptor, events: .readable, source: source, token: 0)
        }
    }

    /// Stops listening; call on the loop.
    public func stop() {
        loop.assertInEventLoop()
        guard !closed else { return }
        closed = true
        if !paused { loop.deregister(descriptor) }
        close(descriptor)
    }
}
