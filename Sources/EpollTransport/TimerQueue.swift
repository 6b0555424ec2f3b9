import HeapModule
import NIOCore

/// The loop's scheduled tasks, earliest first. A plain value confined to its loop.
///
/// Cancelling is O(1): the task leaves `tasks`, and its entry in the heap is skipped when it comes
/// up. So a connection that schedules a timer and cancels it on every message (request pacing,
/// keep-alive) never makes the heap search.
struct TimerQueue<Task> {
    private struct Entry: Comparable {
        let deadline: NIODeadline
        let id: UInt64
        static func < (a: Entry, b: Entry) -> Bool { (a.deadline, a.id) < (b.deadline, b.id) }
    }

    private var heap = Heap<Entry>()
    private var tasks: [UInt64: Task] = [:]

    var count: Int { tasks.count }

    /// `id` must be unique for the queue's life (`EpollLoop` counts them).
    mutating func insert(_ task: Task, id: UInt64, deadline: NIODeadline) {
        tasks[id] = task
        heap.insert(Entry(deadline: deadline, id: id))
    }

    /// Returns the task if it had not run yet.
    mutating func cancel(id: UInt64) -> Task? {
        tasks.removeValue(forKey: id)
    }

    /// The earliest deadline of a task still waiting.
    mutating func nextDeadline() -> NIODeadline? {
        while let first = heap.min, tasks[first.id] == nil { heap.removeMin() }
        return heap.min?.deadline
    }

    /// The next task due at `now`, taken out of the queue.
    mutating func popDue(now: NIODeadline) -> Task? {
        while let first = heap.min, first.deadline <= now {
            heap.removeMin()
            if let task = tasks.removeValue(forKey: first.id) { return task }
        }
        return nil
    }

    /// Everything still waiting, taken out (the loop is shutting down).
    mutating func removeAll() -> [Task] {
        let rest = Array(tasks.values)
        tasks = [:]
        heap = Heap()
        return rest
    }
}
