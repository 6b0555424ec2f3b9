import NIOCore

/// One timer per event loop for the keep-alive checks (heartbeats, pings, slow-consumer eviction) of
/// every subscriber session on it.
///
/// Why not a `RepeatedTask` per connection: each run of one is an insert into and a removal from NIO's
/// scheduled-task heap, O(log n) with a copy of the task at every step. With 2,500 connections per
/// loop checked twice a second, that heap work was ~45% of the hub's CPU at a low tick rate (perf,
/// 5,000 connections at 10 ticks/s), more than the fan-out itself. A sweep costs NIO one timer per
/// loop, and a session joins or leaves it in O(1) (swap-remove, each session remembering its slot).
///
/// Confined to `eventLoop`: `add`, `remove` and the sweep run on it (asserted in debug builds).
final class KeepAliveSweep: @unchecked Sendable {
    // @unchecked: all state is confined to `eventLoop`.

    /// What the sweep calls on each member.
    protocol Member: AnyObject {
        /// The member's position in the sweep; set and read only by the sweep.
        var keepAliveSlot: Int { get set }
        func checkLiveness()
    }

    let eventLoop: any EventLoop
    let interval: TimeAmount
    private var members: [any Member] = []
    private var task: RepeatedTask?

    init(eventLoop: any EventLoop, interval: TimeAmount) {
        self.eventLoop = eventLoop
        self.interval = interval
    }

    var count: Int { members.count }

    func add(_ member: any Member) {
        eventLoop.assertInEventLoop()
        member.keepAliveSlot = members.count
        members.append(member)
        if task == nil {
            task = eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { [self] _ in sweep() }
        }
    }

    func remove(_ member: any Member) {
        eventLoop.assertInEventLoop()
        let slot = member.keepAliveSlot
        guard slot >= 0, slot < members.count, members[slot] === member else { return }
        let last = members.removeLast()
        if slot < members.count {
            members[slot] = last
            last.keepAliveSlot = slot
        }
        member.keepAliveSlot = -1
    }

    private func sweep() {
        // A copy: a check can close its connection, and a closing session leaves the sweep.
        for member in members { member.checkLiveness() }
    }

    func checkInvariants() {
        for (slot, member) in members.enumerated() {
            precondition(member.keepAliveSlot == slot, "keep-alive slot out of sync")
        }
    }
}
