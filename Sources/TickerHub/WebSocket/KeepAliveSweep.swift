import NIOCore

/// One timer per event loop for the keep-alive checks (heartbeats, pings, slow-consumer eviction) of
/// every subscriber session on it, spread over each round: every tick the next slice of members is
/// checked, so that each member is checked once per `round`.
///
/// Why one timer, not a `RepeatedTask` per connection: each run of one is an insert into and a
/// removal from NIO's scheduled-task heap, O(log n) with a copy of the task at every step; with
/// thousands of connections that heap work was ~45% of the hub's CPU at a low tick rate (perf,
/// 5,000 connections at 10 ticks/s). A member joins or leaves in O(1) (swap-remove, each member
/// remembering its slot).
///
/// Why spread: checking a whole round at once writes a heartbeat or a ping to every idle session in
/// one go. At 15,000 mostly idle connections that burst held the loop for tens of milliseconds each
/// round, and every update published meanwhile waited behind it (p99 120 ms, against 8 ms with the
/// writes spread). A member that leaves during a round may move another into a slot already passed;
/// that one is checked a round later, which liveness checks tolerate.
///
/// Confined to `eventLoop`: `add`, `remove` and the checks run on it (asserted in debug builds).
final class KeepAliveSweep: @unchecked Sendable {
    // @unchecked: all state is confined to `eventLoop`.

    /// What the sweep calls on each member.
    protocol Member: AnyObject {
        /// The member's position in the sweep; set and read only by the sweep.
        var keepAliveSlot: Int { get set }
        func checkLiveness(now: NIODeadline)
    }

    let eventLoop: any EventLoop
    /// How often each member is checked.
    let round: TimeAmount
    private let ticksPerRound: Int
    private var members: [any Member] = []
    /// The next slot to check.
    private var cursor = 0
    private var task: RepeatedTask?

    init(eventLoop: any EventLoop, round: TimeAmount, ticksPerRound: Int = 50) {
        precondition(ticksPerRound >= 1 && round.nanoseconds >= Int64(ticksPerRound))
        self.eventLoop = eventLoop
        self.round = round
        self.ticksPerRound = ticksPerRound
    }

    var count: Int { members.count }

    func add(_ member: any Member) {
        eventLoop.assertInEventLoop()
        member.keepAliveSlot = members.count
        members.append(member)
        if task == nil {
            let tick = TimeAmount.nanoseconds(round.nanoseconds / Int64(ticksPerRound))
            task = eventLoop.scheduleRepeatedTask(initialDelay: tick, delay: tick) { [self] _ in checkNextSlice() }
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

    /// One tick: the next `ceil(count / ticksPerRound)` members.
    private func checkNextSlice() {
        let slice = (members.count + ticksPerRound - 1) / ticksPerRound
        let now = eventLoop.now
        for _ in 0..<slice {
            if cursor >= members.count { cursor = 0 }
            guard cursor < members.count else { return }
            let member = members[cursor]
            cursor += 1
            // May remove itself (a close), which moves the last member into its slot.
            member.checkLiveness(now: now)
        }
    }

    func checkInvariants() {
        for (slot, member) in members.enumerated() {
            precondition(member.keepAliveSlot == slot, "keep-alive slot out of sync")
        }
    }
}
