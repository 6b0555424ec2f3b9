import NIOCore
import Testing
@testable import NATSClient

/// The connection's rules, event by event, without a server (the real-server tests are in
/// `NATSClientTests`).
@Suite struct NATSConnectionStateMachineTests {
    typealias Machine = NATSConnectionStateMachine

    enum Event: CustomStringConvertible {
        case start, socketConnected
        case info([String])
        case pong, pingTimer, flush, closed, reconnectTimer, close
        var description: String {
            "\(self)".replacingOccurrences(of: "NATSConnectionStateMachineTests.Event.", with: "")
        }
    }

    private func machine(servers: [String] = ["nats://a:4222", "b:4223"], maxPings: Int = 2) -> Machine {
        var configuration = NATSClient.Configuration(servers: servers)
        configuration.maxPingsOutstanding = maxPings
        configuration.reconnectWait = .milliseconds(50)
        configuration.maxReconnectWait = .seconds(2)
        return Machine(configuration: configuration)
    }

    private func apply(_ event: Event, to machine: inout Machine) -> Machine.Action {
        switch event {
        case .start: machine.start()
        case .socketConnected: machine.socketConnected()
        case .info(let urls): machine.infoReceived(connectURLs: urls)
        case .pong: machine.pongReceived()
        case .pingTimer: machine.pingTimerFired()
        case .flush: machine.flushRequested()
        case .closed: machine.connectionClosed()
        case .reconnectTimer: machine.reconnectTimerFired()
        case .close: machine.close()
        }
    }

    /// Runs `steps` (event, the action expected, the state after), from a new machine.
    private func run(_ steps: [(Event, Machine.Action, Machine.State)], on start: Machine? = nil) {
        var machine = start ?? machine()
        for (index, (event, action, state)) in steps.enumerated() {
            #expect(apply(event, to: &machine) == action, "step \(index): \(event)")
            #expect(machine.state == state, "step \(index): \(event)")
        }
    }

    private static let a = ServerPool.Address("a:4222")!
    private static let b = ServerPool.Address("b:4223")!
    private static let c = ServerPool.Address("c:4224")!
    private static let quick = Machine.delay(afterFailures: 1, first: .milliseconds(50), cap: .seconds(2))

    @Test func connectsHandshakesAndBecomesReady() {
        run([
            (.socketConnected, .none, .idle),  // nothing before start
            (.start, .connect(to: Self.a), .connecting(server: "a:4222")),
            (.start, .none, .connecting(server: "a:4222")),  // once
            (.pong, .none, .connecting(server: "a:4222")),  // no PONG before the handshake
            (.socketConnected, .none, .awaitingInfo(server: "a:4222")),
            (.info([]), .sendHandshake, .handshaking(server: "a:4222")),
            (.flush, .none, .handshaking(server: "a:4222")),  // a flush before ready fails
            (.pong, .becomeReady(server: "a:4222"), .ready(server: "a:4222", pingsOutstanding: 0)),
            (.info(["c:4224"]), .none, .ready(server: "a:4222", pingsOutstanding: 0)),  // a later INFO only teaches
        ])
    }

    @Test func anInfoBeforeTheConnectCompletesStillStartsTheHandshake() {
        run([
            (.start, .connect(to: Self.a), .connecting(server: "a:4222")),
            (.info([]), .sendHandshake, .handshaking(server: "a:4222")),
            (.socketConnected, .none, .handshaking(server: "a:4222")),
        ])
    }

    @Test func unansweredPingsReplaceTheConnection() {
        var ready = machine()
        for event in [Event.start, .socketConnected, .info([]), .pong] { _ = apply(event, to: &ready) }
        run(
            [
                (.pingTimer, .sendPing, .ready(server: "a:4222", pingsOutstanding: 1)),
                (.pong, .pongArrived, .ready(server: "a:4222", pingsOutstanding: 0)),
                (.pingTimer, .sendPing, .ready(server: "a:4222", pingsOutstanding: 1)),
                (.flush, .sendPing, .ready(server: "a:4222", pingsOutstanding: 2)),
                (
                    .pingTimer, .closeConnection(reason: "no PONG to 2 pings: replacing the connection"),
                    .ready(server: "a:4222", pingsOutstanding: 2)
                ),
                (
                    .closed, .reconnect(lost: "a:4222", wasReady: true, next: Self.b, delay: Self.quick),
                    .backingOff(failedAttempts: 1)
                ),
                (.pong, .none, .backingOff(failedAttempts: 1)),  // a late PONG of the old connection
                (.reconnectTimer, .connect(to: Self.b), .connecting(server: "b:4223")),
            ], on: ready)
    }

    @Test func failuresInARowBackOffFurtherAndGoRoundThePoolWithLearnedMembers() {
        var machine = machine()
        _ = machine.start()
        _ = machine.infoReceived(connectURLs: ["nats://c:4224", "a:4222"])  // c is new, a known
        var delays: [ClosedRange<Int64>] = []
        var tried: [String] = ["a:4222"]
        for _ in 0..<8 {
            guard case .reconnect(_, false, _, let delay) = machine.connectionClosed() else {
                Issue.record("a failed attempt must reconnect")
                return
            }
            delays.append(delay)
            guard case .connect(let address) = machine.reconnectTimerFired() else { return }
            tried.append(address.description)
        }
        #expect(tried == ["a:4222", "b:4223", "c:4224", "a:4222", "b:4223", "c:4224", "a:4222", "b:4223", "c:4224"])
        // 50 ms doubling per failure, capped at 2 s, each wait from the upper half.
        #expect(delays.map(\.upperBound) == [50, 100, 200, 400, 800, 1600, 2000, 2000].map { Int64($0) * 1_000_000 })
        #expect(delays.allSatisfy { $0.lowerBound * 2 == $0.upperBound })
        // A connection that becomes ready ends the run: its loss retries quickly.
        for event in [Event.socketConnected, .info([]), .pong] { _ = apply(event, to: &machine) }
        #expect(
            machine.connectionClosed() == .reconnect(lost: "c:4224", wasReady: true, next: Self.a, delay: Self.quick))
    }

    @Test func closeIsForGoodFromAnyState() {
        for prefix in [
            [Event](), [.start], [.start, .socketConnected], [.start, .socketConnected, .info([]), .pong],
            [.start, .closed],
        ] {
            var machine = machine()
            for event in prefix { _ = apply(event, to: &machine) }
            #expect(machine.close() == .shutdown, "after \(prefix)")
            for event in [
                Event.start, .socketConnected, .info([]), .pong, .pingTimer, .flush, .closed, .reconnectTimer, .close,
            ] {
                #expect(apply(event, to: &machine) == .none, "\(event) after close, after \(prefix)")
                #expect(machine.state == .closed)
            }
        }
    }
}
