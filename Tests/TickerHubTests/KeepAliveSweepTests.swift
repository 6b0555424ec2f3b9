import NIOCore
import NIOEmbedded
import Testing
@testable import TickerHub

@Suite struct KeepAliveSweepTests {
    final class Probe: KeepAliveSweep.Member {
        var keepAliveSlot = -1
        var checks: [NIODeadline] = []
        /// Run during a check: a session may close, and leave the sweep, while being checked.
        var onCheck: (() -> Void)?
        func checkLiveness(now: NIODeadline) {
            checks.append(now)
            onCheck?()
        }
    }

    @Test func checksEveryMemberOncePerRoundInSlicesFromOneTimer() {
        let loop = EmbeddedEventLoop()
        let sweep = KeepAliveSweep(eventLoop: loop, round: .milliseconds(500), ticksPerRound: 5)
        let probes = (0..<10).map { _ in Probe() }
        for probe in probes { sweep.add(probe) }
        // Every 100 ms, the next two: no tick checks more than its share.
        loop.advanceTime(by: .milliseconds(100))
        #expect(probes.map(\.checks.count) == [1, 1, 0, 0, 0, 0, 0, 0, 0, 0])
        loop.advanceTime(by: .milliseconds(400))
        #expect(probes.allSatisfy { $0.checks.count == 1 })
        loop.advanceTime(by: .seconds(1))
        #expect(probes.allSatisfy { $0.checks.count == 3 })
        // Each member is checked once per round, at its own phase.
        for probe in probes {
            let gaps = zip(probe.checks.dropFirst(), probe.checks).map { $0 - $1 }
            #expect(gaps.allSatisfy { $0 == .milliseconds(500) })
        }
    }

    @Test func membersLeaveInConstantTimeEvenDuringARound() {
        let loop = EmbeddedEventLoop()
        let sweep = KeepAliveSweep(eventLoop: loop, round: .milliseconds(500), ticksPerRound: 1)
        let probes = (0..<6).map { _ in Probe() }
        for probe in probes { sweep.add(probe) }
        sweep.remove(probes[1])
        sweep.remove(probes[1])  // twice is harmless (a session leaves on close and on removal)
        sweep.checkInvariants()
        // The first one closes during its check and takes the last one's slot out from under it.
        probes[0].onCheck = {
            sweep.remove(probes[0])
            sweep.remove(probes[5])
        }
        loop.advanceTime(by: .milliseconds(500))
        #expect(sweep.count == 3)
        sweep.checkInvariants()
        #expect(probes[0].checks.count == 1 && probes[1].checks.isEmpty && probes[5].checks.isEmpty)
        loop.advanceTime(by: .milliseconds(1000))
        // Every member left in the sweep is checked every round from then on.
        for probe in probes[2...4] { #expect(probe.checks.count >= 2) }
        #expect(probes[0].checks.count == 1)
    }
}
