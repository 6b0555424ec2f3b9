import CEpoll
#if canImport(Glibc)
import Glibc
#endif

/// A bell another thread rings to make a loop call `action` once, as an I/O event among its sockets:
/// an eventfd the loop polls. (The hub rings it from the publisher to make a loop drain the ring; as
/// an I/O event, a drain is served once per poll like the sockets, never ahead of them; see
/// `LoopDoorbell`, its NIO counterpart.)
///
/// Rings between two polls coalesce into one call: the eventfd's counter is read (reset) before
/// `action` runs, so a ring during `action` is a new call.
public final class EpollDoorbell: EpollSource, @unchecked Sendable {
    // @unchecked: `descriptor` is immutable; `action` is set once on the loop and only called there.
    private let descriptor: CInt
    private var action: (() -> Void)?

    /// The bell, from any thread; it rings nothing until `attach`, but rings before it are kept.
    public init() throws(SystemCallError) {
        descriptor = eventfd(0, CInt(EFD_NONBLOCK | EFD_CLOEXEC))
        guard descriptor >= 0 else { throw SystemCallError("eventfd", errno: errno) }
    }

    deinit { close(descriptor) }

    /// Registers with `loop`, which calls `action` whenever the bell rang; call once, on the loop.
    public func attach(to loop: EpollLoop, action: @escaping () -> Void) throws(SystemCallError) {
        loop.assertInEventLoop()
        precondition(self.action == nil, "a doorbell is attached once")
        self.action = action
        let source = loop.addSource(self)
        try loop.register(descriptor, events: .readable, source: source, token: 0)
    }

    /// From any thread.
    public func ring() {
        var one: UInt64 = 1
        _ = write(descriptor, &one, 8)
    }

    public func ready(token: UInt64, events: EpollEvents) {
        var count: UInt64 = 0
        _ = read(descriptor, &count, 8)
        action?()
    }
}
