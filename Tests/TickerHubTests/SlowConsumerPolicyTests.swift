import FeedModel
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOWebSocket
import Testing
@testable import TickerHub
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

@Suite struct SlowConsumerPolicyTests {
    var configuration: HubConfiguration {
        var configuration = HubConfiguration()
        configuration.maxBacklogBytes = 1000
        configuration.slowClientTimeoutSeconds = 2
        return configuration
    }

    @Test func aConnectionIsEvictedOnlyAfterItsBacklogStayedFullForTheTimeout() {
        var policy = SlowConsumerPolicy(configuration: configuration)
        let start = NIODeadline.uptimeNanoseconds(1_000_000_000)
        #expect(policy.evictionRule(now: start + .seconds(100), backlogBytes: 999_999) == nil)  // not full: never
        policy.filled(at: start)
        policy.filled(at: start + .seconds(1))  // still the same episode
        #expect(policy.evictionRule(now: start + .milliseconds(1_999), backlogBytes: 1000) == nil)
        #expect(policy.evictionRule(now: start + .seconds(2), backlogBytes: 1000) == .backlogFullTooLong(seconds: 2))
        // Draining starts the clock over: a client that reads, however slowly, is kept.
        policy.drained()
        policy.filled(at: start + .seconds(3))
        #expect(policy.evictionRule(now: start + .seconds(4), backlogBytes: 1000) == nil)
    }

    @Test func theBacklogFillsAndDrainsOncePerEpisode() {
        var policy = SlowConsumerPolicy(configuration: configuration)
        let now = NIODeadline.now()
        var changes: [SlowConsumerPolicy.Change] = []
        changes.append(policy.writability(true, now: now))
        changes.append(policy.writability(false, now: now))
        changes.append(policy.writability(false, now: now))  // the same episode
        changes.append(policy.writability(true, now: now))
        changes.append(policy.writability(false, now: now))
        changes.append(policy.writability(true, now: now))
        #expect(changes == [.none, .filled, .none, .drained, .filled, .drained])
    }

    @Test func readsWaitWhileAnythingHoldsThemAndTheHeldReadGoesOnceNothingDoes() {
        var gate = ReadGate()
        var answers: [Bool] = []
        answers.append(gate.mayRead(backlogFull: false, requestsWaiting: false, closing: false))
        answers.append(gate.takeHeld())  // nothing was held
        answers.append(gate.mayRead(backlogFull: true, requestsWaiting: false, closing: false))
        answers.append(gate.mayRead(backlogFull: false, requestsWaiting: true, closing: false))
        // The backlog drained but requests still wait: the held read, asked again, is held again.
        answers.append(gate.takeHeld())
        answers.append(gate.mayRead(backlogFull: false, requestsWaiting: true, closing: false))
        // The requests were answered: now it goes, and nothing is held any more.
        answers.append(gate.takeHeld())
        answers.append(gate.mayRead(backlogFull: false, requestsWaiting: false, closing: false))
        answers.append(gate.takeHeld())
        // A closing connection reads on, so the client gets our Close.
        answers.append(gate.mayRead(backlogFull: true, requestsWaiting: true, closing: true))
        #expect(answers == [true, false, false, false, true, false, true, true, false, true])
    }

    @Test func requestsPushingTheBacklogPastTheHardLimitEvictAtOnce() {
        var policy = SlowConsumerPolicy(configuration: configuration)
        let now = NIODeadline.now()
        policy.filled(at: now)
        #expect(policy.evictionRule(now: now, backlogBytes: 4000) == nil)
        #expect(policy.evictionRule(now: now, backlogBytes: 4001) == .backlogOverHardLimit(bytes: 4000))
        #expect(
            CloseCode.slowConsumer.webSocketErrorCode == WebSocketErrorCode(codeNumber: 4008)
                && CloseCode.slowConsumer.reason == "slow consumer")
    }
}
