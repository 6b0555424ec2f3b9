import CEpoll
import Atomics
import EpollTransport
import Glibc
import NIOConcurrencyHelpers
import NIOCore
import Testing

@Suite struct EpollLoopTests {
    @Test func tasksFromOtherThreadsRunOnTheLoopInOrder() throws {
        let loop = try EpollLoop(name: "test")
        defer { loop.shutdown() }
        #expect(!loop.inEventLoop)
        let seen = NIOLockedValueBox<[Int]>([])
        let futures = (0..<100).map { index in
            loop.submit {
                precondition(loop.inEventLoop)
                seen.withLockedValue { $0.append(index) }
            }
        }
        for future in futures { try future.wait() }
        #expect(seen.withLockedValue { $0 } == Array(0..<100))
    }

    @Test func scheduledTasksRunByDeadlineAndNeverEarly() throws {
        let loop = try EpollLoop(name: "test")
        defer { loop.shutdown() }
        let order = NIOLockedValueBox<[Int]>([])
        let start = NIODeadline.now()
        let delays: [Int64] = [3_000, 200, 1_500, 50, 800]  // microseconds: below a millisecond too
        // Deadlines from one `start`, and all scheduled in one pass of the loop: the order asserted
        // is then the deadlines' order whatever the scheduler does. (Scheduled one by one from this
        // thread, a task due in 200 µs could run before a later call had scheduled the 50 µs one:
        // under TSan on two shared cores, it did.)
        let tasks = try loop.submit {
            delays.enumerated().map { index, micros in
                loop.scheduleTask(deadline: start + .microseconds(micros)) { () -> NIODeadline in
                    order.withLockedValue { $0.append(index) }
                    return NIODeadline.now()
                }
            }
        }.wait()
        for (task, micros) in zip(tasks, delays) {
            let ranAt = try task.futureResult.wait()
            #expect(ranAt >= start + .microseconds(micros))
        }
        #expect(order.withLockedValue { $0 } == [3, 1, 4, 2, 0])
    }

    @Test func aCancelledTaskNeverRunsAndItsFutureFails() throws {
        let loop = try EpollLoop(name: "test")
        defer { loop.shutdown() }
        let ran = ManagedAtomic(false)
        // Cancelled from another thread: far enough ahead that no descheduling of this thread can
        // let it run first.
        let remote = loop.scheduleTask(in: .seconds(60)) { ran.store(true, ordering: .relaxed) }
        remote.cancel()
        #expect(throws: EventLoopError.cancelled) { try remote.futureResult.wait() }
        // Cancelled on the loop in the pass that scheduled it: due long before the task waited on
        // below, so had the cancel not taken it out of the queue, it would have run.
        let local = try loop.submit {
            let task = loop.scheduleTask(in: .milliseconds(1)) { ran.store(true, ordering: .relaxed) }
            task.cancel()
            return task
        }.wait()
        #expect(throws: EventLoopError.cancelled) { try local.futureResult.wait() }
        try loop.scheduleTask(in: .milliseconds(20)) {}.futureResult.wait()
        let didRun = ran.load(ordering: .relaxed)
        #expect(!didRun)
    }

    @Test func shutdownFailsWhatIsStillScheduled() throws {
        let loop = try EpollLoop(name: "test")
        let task = loop.scheduleTask(in: .seconds(60)) {}
        // Registered before the shutdown: a stopped loop runs nothing more (as NIO's), a wait included.
        let outcome = NIOLockedValueBox<Result<Void, any Error>?>(nil)
        task.futureResult.whenComplete { result in outcome.withLockedValue { $0 = result } }
        try loop.submit {}.wait()  // the task is in the loop's queue
        loop.shutdown()
        let result = outcome.withLockedValue { $0 }
        #expect(throws: EventLoopError.shutdown) { try result?.get() }
    }

    /// A descriptor registered under a source: its events come to the source with its token.
    @Test func aSourceGetsTheEventsOfItsDescriptorsWithTheirTokens() throws {
        final class Recorder: EpollSource, @unchecked Sendable {
            let events = NIOLockedValueBox<[(UInt64, Bool)]>([])
            let descriptors: [CInt]
            init(descriptors: [CInt]) { self.descriptors = descriptors }
            func ready(token: UInt64, events: EpollEvents) {
                var scratch: UInt64 = 0
                _ = read(descriptors[Int(token >> 40)], &scratch, 8)
                self.events.withLockedValue { $0.append((token, events.contains(.readable))) }
            }
        }
        let loop = try EpollLoop(name: "test")
        defer { loop.shutdown() }
        let descriptors = (0..<3).map { _ in eventfd(0, CInt(EFD_NONBLOCK)) }
        defer { for fd in descriptors { close(fd) } }
        let recorder = Recorder(descriptors: descriptors)
        try loop.submit {
            let source = loop.addSource(recorder)
            for (token, fd) in descriptors.enumerated() {
                try loop.register(fd, events: .readable, source: source, token: UInt64(token) << 40 | 7)
            }
        }.wait()
        var one: UInt64 = 1
        _ = write(descriptors[2], &one, 8)
        for _ in 0..<10_000 where recorder.events.withLockedValue({ $0.isEmpty }) { usleep(1000) }
        _ = write(descriptors[0], &one, 8)
        for _ in 0..<10_000 where recorder.events.withLockedValue({ $0.count < 2 }) { usleep(1000) }
        let seen = recorder.events.withLockedValue { $0 }
        #expect(seen.map(\.0) == [2 << 40 | 7, 7])
        #expect(seen.allSatisfy { $0.1 })
    }

    /// The fan-out's futures work on it as on any NIO loop.
    @Test func futuresChainOnTheLoop() throws {
        let loop = try EpollLoop(name: "test")
        defer { loop.shutdown() }
        let value = try loop.submit { 20 }.flatMap { first in
            loop.scheduleTask(in: .microseconds(100)) { first + 22 }.futureResult
        }.wait()
        #expect(value == 42)
    }
}
