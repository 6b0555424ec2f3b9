import NIOCore
import NIOEmbedded
import Testing
@testable import TickerHub

@Suite struct KeepAliveSweepTests {
    final class Probe: KeepAliveSweep.Member {
        var keepAliveSlot = -1
        var checks = 0
        /// Run during a check: a session may close, and leave the sweep, while being checked.
        var onCheck: (() -> Void)?
        func checkLiveness() {
            checks += 1
            onCheck?()
        }
    }

    @Test func checksEveryMemberOncePerIntervalWithOneTimer() {
        let loop = EmbeddedEventLoop()
        let sweep = KeepAliveSweep(eventLoop: loop, interval: .milliseconds(500))
        let probes = (0..<5).map { _ in Probe() }
        for probe in probes { sweep.add(probe) }
        loop.advanceTime(by: .milliseconds(499))
        #expect(probes.allSatisfy { $0.checks == 0 })
        loop.advanceTime(by: .milliseconds(1))
        #expect(probes.allSatisfy { $0.checks == 1 })
        loop.advanceTime(by: .seconds(1))
        #expect(probes.allSatisfy { $0.checks == 3 })
    }

    @Test func membersLeaveInConstantTimeEvenDuringASweep() {
        let loop = EmbeddedEventLoop()
        let sweep = KeepAliveSweep(eventLoop: loop, interval: .milliseconds(500))
        let probes = (0..<6).map { _ in Probe() }
        for probe in probes { sweep.add(probe) }
        sweep.remove(probes[1])
        sweep.remove(probes[1])  // twice is harmless (a session leaves on close and on removal)
        sweep.checkInvariants()
        // The first one closes during the sweep and takes the last one's slot out from under it.
        probes[0].onCheck = { sweep.remove(probes[0]); sweep.remove(probes[5]) }
        loop.advanceTime(by: .milliseconds(500))
        #expect(probes.map(\.checks) == [1, 0, 1, 1, 1, 1])  // this sweep had started with probe 5 in it
        #expect(sweep.count == 3)
        sweep.checkInvariants()
        loop.advanceTime(by: .milliseconds(500))
        #expect(probes.map(\.checks) == [1, 0, 2, 2, 2, 1])
    }
}
