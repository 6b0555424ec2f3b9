import NIOCore
import Testing

@testable import TickerHub

/// The connection limits, on a made-up clock.
struct ConnectionLimitsTests {
    let start = NIODeadline.uptimeNanoseconds(1_000_000_000)

    @Test func perAddressAndTotalPlacesAreHeldUntilReleased() {
        let limits = ConnectionLimits(configuration: .init(maxConnections: 3, maxConnectionsPerIP: 2,
                                                           handshakesPerSecondPerIP: 1000, handshakeBurst: 1000))
        let first = limits.admit("10.0.0.1", now: start), second = limits.admit("10.0.0.1", now: start)
        #expect(first == nil && second == nil)
        let third = limits.admit("10.0.0.1", now: start)
        #expect(third == .tooManyConnections)
        let other = limits.admit("10.0.0.2", now: start)
        #expect(other == nil)
        let full = limits.admit("10.0.0.3", now: start)
        #expect(full == .serverFull)
        limits.release("10.0.0.1", now: start)
        let again = limits.admit("10.0.0.3", now: start)
        #expect(again == nil)
        #expect(limits.counts.total == 3)
    }

    @Test func handshakesAreATokenBucketPerAddress() {
        let limits = ConnectionLimits(configuration: .init(maxConnections: 100, maxConnectionsPerIP: 100,
                                                           handshakesPerSecondPerIP: 10, handshakeBurst: 5))
        var refused: [ConnectionLimits.Refusal?] = []
        for _ in 0..<7 {
            let answer = limits.admit("10.0.0.1", now: start)
            refused.append(answer)
            if answer == nil { limits.release("10.0.0.1", now: start) }
        }
        #expect(refused.prefix(5).allSatisfy { $0 == nil } && refused.suffix(2).allSatisfy { $0 == .tooManyHandshakes })
        let otherAddress = limits.admit("10.0.0.2", now: start)
        #expect(otherAddress == nil, "buckets are per address")
        let afterATenth = limits.admit("10.0.0.1", now: start + .milliseconds(100))
        #expect(afterATenth == nil)
    }

    @Test func idleAddressesAreForgotten() {
        let limits = ConnectionLimits(configuration: .init(maxConnections: 100, maxConnectionsPerIP: 100,
                                                           handshakesPerSecondPerIP: 10, handshakeBurst: 5))
        for n in 0..<50 {
            let answer = limits.admit("10.0.1.\(n)", now: start)
            #expect(answer == nil)
            limits.release("10.0.1.\(n)", now: start + .seconds(1))
        }
        #expect(limits.counts.total == 0 && limits.counts.addresses == 0)
    }
}
