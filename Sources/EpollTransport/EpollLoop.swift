import CEpoll
import Atomics
import Dispatch
import NIOConcurrencyHelpers
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// Where a loop sends the events of the descriptors registered under it.
public protocol EpollSource: AnyObject {
    /// Called on the loop with the events of the descriptor registered with `token`.
    func ready(token: UInt64, events: EpollEvents)
}

/// One thread with one epoll instance: the owned transport's event loop.
///
/// It is a NIO `EventLoop` (tasks, scheduled tasks, futures), so the fan-out engine, which is written
/// against `EventLoop`, runs on it unchanged. What NIO's loops have and this one has not is the
/// channel: descriptors are registered by *sources* (`EpollSource`), each a handful per loop (the
/// connection table, a doorbell), with a 56-bit token per descriptor that comes back with its events
/// (room for a slot's index and generation, `SlotTable.Key`).
/// So a connection costs an epoll registration and a slot, and no object.
///
/// Each turn: wait for events (up to the earliest scheduled task), hand each to its source, run the
/// scheduled tasks that are due, then the tasks submitted meanwhile. Tasks submitted from other
/// threads wake the wait through an eventfd.
///
/// Thread safety: `execute`, `scheduleTask`, `inEventLoop` and shutdown may be called from any
/// thread; registration and the sources' callbacks belong to the loop's thread.
public final class EpollLoop: EventLoop, @unchecked Sendable {
    // @unchecked: `inbox` and `wakePending` are guarded (lock, atomic); everything else is confined
    // to the loop's thread, which is asserted where it matters.

    private struct Work {
        let run: () -> Void
        let fail: (any Error) -> Void
    }

    private let epoll: Epoll
    private let wakeDescriptor: CInt
    private let inbox = NIOLockedValueBox<[@Sendable () -> Void]>([])
    /// True while a wake is written and not yet read: writers skip the system call then.
    private let wakePending = ManagedAtomic(false)
    private let nextTaskID = ManagedAtomic<UInt64>(1)
    private var timers = TimerQueue<Work>()
    private var sources: [any EpollSource] = []
    private var stopping = false
    private let stopped = DispatchSemaphore(value: 0)
    private var thread = pthread_t()
    public let name: String

    /// Starts the loop's thread.
    public init(name: String) throws {
        self.name = name
        epoll = try Epoll()
        wakeDescriptor = eventfd(0, CInt(EFD_NONBLOCK | EFD_CLOEXEC))
        guard wakeDescriptor >= 0 else { throw SystemCallError("eventfd", errno: errno) }
        try epoll.add(wakeDescriptor, events: .readable, key: UInt64.max)
        // The thread waits until `thread` is set here, so that `inEventLoop` is right from its first task.
        let started = DispatchSemaphore(value: 0)
        let box = Unmanaged.passRetained(ThreadStart(loop: self, started: started))
        let result = pthread_create(
            &thread, nil,
            { argument in
                let start = Unmanaged<ThreadStart>.fromOpaque(argument!).takeRetainedValue()
                start.started.wait()
                start.loop.run()
                return nil
            }, box.toOpaque())
        guard result == 0 else {
            box.release()
            throw SystemCallError("pthread_create", errno: result)
        }
        started.signal()
    }

    private final class ThreadStart {
        let loop: EpollLoop
        let started: DispatchSemaphore
        init(loop: EpollLoop, started: DispatchSemaphore) {
            self.loop = loop
            self.started = started
        }
    }

    deinit { Glibc.close(wakeDescriptor) }

    // MARK: Sources and descriptors (on the loop)

    /// The largest token a registration can carry: the key's top byte is its source.
    public static let maxToken: UInt64 = 1 << 56 - 1

    /// Adds a source; its registrations then carry the returned number. A loop has a few (at most 255).
    public func addSource(_ source: any EpollSource) -> UInt8 {
        assertInEventLoop()
        precondition(sources.count < 255, "a loop has a few sources, not one per descriptor")
        sources.append(source)
        return UInt8(sources.count - 1)
    }

    public func register(_ fd: CInt, events: EpollEvents, source: UInt8, token: UInt64) throws(SystemCallError) {
        try epoll.add(fd, events: events, key: Self.key(source: source, token: token))
    }

    public func reregister(_ fd: CInt, events: EpollEvents, source: UInt8, token: UInt64) throws(SystemCallError) {
        try epoll.modify(fd, events: events, key: Self.key(source: source, token: token))
    }

    private static func key(source: UInt8, token: UInt64) -> UInt64 {
        precondition(token <= maxToken, "a token has 56 bits")
        return UInt64(source) << 56 | token
    }

    public func deregister(_ fd: CInt) {
        epoll.remove(fd)
    }

    // MARK: EventLoop

    public var inEventLoop: Bool { pthread_equal(pthread_self(), thread) != 0 }

    public func execute(_ task: @escaping @Sendable () -> Void) {
        inbox.withLockedValue { $0.append(task) }
        // On the loop, the turn ends by running the inbox, and the next wait sees it is not empty.
        if !inEventLoop { wake() }
    }

    @discardableResult
    public func scheduleTask<T>(deadline: NIODeadline, _ task: @escaping @Sendable () throws -> T) -> Scheduled<T> {
        let promise: EventLoopPromise<T> = makePromise()
        let id = nextTaskID.loadThenWrappingIncrement(ordering: .relaxed)
        let work = Work(
            run: {
                // On the loop: the promise's value does not cross threads here.
                do { promise.assumeIsolatedUnsafeUnchecked().succeed(try task()) } catch { promise.fail(error) }
            }, fail: { promise.fail($0) })
        // `Work` holds non-Sendable closures: it only ever crosses to the loop inside this box.
        let transfer = UnsafeTransfer(work)
        if inEventLoop {
            timers.insert(work, id: id, deadline: deadline)
        } else {
            execute { self.timers.insert(transfer.value, id: id, deadline: deadline) }
        }
        return Scheduled(promise: promise) { [self] in
            if inEventLoop { cancelTimer(id: id) } else { execute { self.cancelTimer(id: id) } }
        }
    }

    private func cancelTimer(id: UInt64) {
        timers.cancel(id: id)?.fail(EventLoopError.cancelled)
    }

    @discardableResult
    public func scheduleTask<T>(in delay: TimeAmount, _ task: @escaping @Sendable () throws -> T) -> Scheduled<T> {
        scheduleTask(deadline: .now() + delay, task)
    }

    public func preconditionInEventLoop(file: StaticString, line: UInt) {
        precondition(inEventLoop, "not on \(name)", file: file, line: line)
    }

    public func preconditionNotInEventLoop(file: StaticString, line: UInt) {
        precondition(!inEventLoop, "on \(name)", file: file, line: line)
    }

    public func shutdownGracefully(queue: DispatchQueue, _ callback: @escaping @Sendable ((any Error)?) -> Void) {
        execute { self.stopping = true }
        let thread = thread
        queue.async {
            self.stopped.wait()
            pthread_join(thread, nil)
            callback(nil)
        }
    }

    /// Stops the loop and waits for its thread to end (not from the loop itself).
    public func shutdown() {
        preconditionNotInEventLoop(file: #file, line: #line)
        execute { self.stopping = true }
        stopped.wait()
        pthread_join(thread, nil)
    }

    // MARK: The loop

    private func wake() {
        guard !wakePending.exchange(true, ordering: .acquiringAndReleasing) else { return }
        var one: UInt64 = 1
        _ = write(wakeDescriptor, &one, 8)
    }

    /// Nanoseconds until the earliest scheduled task, 0 with tasks waiting, nil with neither.
    private func waitTimeout() -> Int64? {
        if !inbox.withLockedValue({ $0.isEmpty }) { return 0 }
        guard let deadline = timers.nextDeadline() else { return nil }
        let now = NIODeadline.now()
        return deadline > now ? Int64(deadline.uptimeNanoseconds - now.uptimeNanoseconds) : 0
    }

    private func run() {
        let capacity = 256
        let events = UnsafeMutableBufferPointer<epoll_event>.allocate(capacity: capacity)
        defer { events.deallocate() }
        while !stopping {
            let count = epoll.wait(into: events, timeoutNanoseconds: waitTimeout())
            for index in 0..<count {
                let key = events[index].data.u64
                if key == UInt64.max {
                    var value: UInt64 = 0
                    _ = read(wakeDescriptor, &value, 8)
                    wakePending.store(false, ordering: .releasing)
                    continue
                }
                sources[Int(key >> 56)].ready(
                    token: key & Self.maxToken, events: EpollEvents(rawValue: events[index].events))
            }
            let now = NIODeadline.now()
            while let due = timers.popDue(now: now) { due.run() }
            for task in inbox.withLockedValue({ tasks in
                defer { tasks = [] }
                return tasks
            }) { task() }
        }
        for work in timers.removeAll() { work.fail(EventLoopError.shutdown) }
        // The sources hold the loop (they register with it): let go of them, or neither is freed.
        sources = []
        // Tasks submitted after the stop still run, so that no promise is left hanging.
        for task in inbox.withLockedValue({ tasks in
            defer { tasks = [] }
            return tasks
        }) { task() }
        stopped.signal()
    }
}

/// Carries a value that is not `Sendable` to the loop, where alone it is used.
struct UnsafeTransfer<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
