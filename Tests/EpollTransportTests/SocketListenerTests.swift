import EpollTransport
import Glibc
import NIOConcurrencyHelpers
import NIOCore
import Testing

@Suite struct SocketListenerTests {
    /// Every connection is accepted and handed over as a non-blocking, close-on-exec descriptor,
    /// a few per turn at most, and a stopped listener refuses new ones.
    @Test func itAcceptsEveryConnectionAFewPerTurn() throws {
        let loop = try EpollLoop(name: "test")
        defer { loop.shutdown() }
        let accepted = NIOLockedValueBox<[CInt]>([])
        let listener = try loop.submit {
            try SocketListener(loop: loop, host: "127.0.0.1", port: 0, acceptsPerWake: 4) { fd in
                accepted.withLockedValue { $0.append(fd) }
            }
        }.wait()
        let clients = (0..<50).map { _ in connectTo(port: listener.port) }
        defer { for fd in clients { close(fd) } }
        for _ in 0..<10_000 where accepted.withLockedValue({ $0.count }) < 50 { usleep(1000) }
        let descriptors = accepted.withLockedValue { $0 }
        #expect(descriptors.count == 50)
        #expect(descriptors.allSatisfy { fcntl($0, F_GETFL) & O_NONBLOCK != 0 && fcntl($0, F_GETFD) & FD_CLOEXEC != 0 })
        for fd in descriptors { close(fd) }

        try loop.submit { listener.stop() }.wait()
        let late = socket(AF_INET, CInt(SOCK_STREAM.rawValue), 0)
        defer { close(late) }
        #expect(connect(late, port: listener.port) != 0, "nothing listens after stop")
    }

    /// Hosts as NIO's listener takes them: an IPv6 literal and a name, besides IPv4.
    @Test(arguments: ["::1", "localhost"]) func itListensOnWhatTheHostResolvesTo(host: String) throws {
        let loop = try EpollLoop(name: "test")
        defer { loop.shutdown() }
        let accepted = NIOLockedValueBox<[CInt]>([])
        let listener = try loop.submit {
            try SocketListener(loop: loop, host: host, port: 0) { fd in accepted.withLockedValue { $0.append(fd) } }
        }.wait()
        #expect(listener.port > 0)
        // Connect to whatever the name resolved to first, as the listener bound it.
        var hints = addrinfo()
        hints.ai_socktype = CInt(SOCK_STREAM.rawValue)
        var resolved: UnsafeMutablePointer<addrinfo>?
        try #require(getaddrinfo(host, String(listener.port), &hints, &resolved) == 0)
        defer { freeaddrinfo(resolved) }
        let first = try #require(resolved)
        let client = socket(first.pointee.ai_family, CInt(SOCK_STREAM.rawValue), 0)
        defer { close(client) }
        #expect(Glibc.connect(client, first.pointee.ai_addr, first.pointee.ai_addrlen) == 0)
        for _ in 0..<10_000 where accepted.withLockedValue({ $0.isEmpty }) { usleep(1000) }
        let descriptors = accepted.withLockedValue { $0 }
        #expect(descriptors.count == 1)
        for fd in descriptors { close(fd) }
        try loop.submit { listener.stop() }.wait()
    }

    func connectTo(port: Int) -> CInt {
        let fd = socket(AF_INET, CInt(SOCK_STREAM.rawValue), 0)
        precondition(connect(fd, port: port) == 0)
        return fd
    }

    func connect(_ fd: CInt, port: Int) -> CInt {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
    }
}
