import NIOCore
import NIOHTTP1
import Testing

@testable import TickerHub

/// The connection limits, on a made-up clock.
struct ConnectionLimitsTests {
    let start = NIODeadline.uptimeNanoseconds(1_000_000_000)

    @Test func perAddressAndTotalPlacesAreHeldUntilReleased() {
        let limits = ConnectionLimits(
            configuration: .init(
                maxConnections: 3, maxConnectionsPerIP: 2,
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
        let limits = ConnectionLimits(
            configuration: .init(
                maxConnections: 100, maxConnectionsPerIP: 100,
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
        let limits = ConnectionLimits(
            configuration: .init(
                maxConnections: 100, maxConnectionsPerIP: 100,
                handshakesPerSecondPerIP: 10, handshakeBurst: 5))
        for n in 0..<50 {
            let answer = limits.admit("10.0.1.\(n)", now: start)
            #expect(answer == nil)
            limits.release("10.0.1.\(n)", now: start + .seconds(1))
        }
        #expect(limits.counts.total == 0 && limits.counts.addresses == 0)
    }
}

/// Who a connection counts as: an IPv4 address, an IPv6 /64, or the client a trusted proxy names.
struct ClientAddressTests {
    @Test func anIPv6ClientIsItsSlash64AndAMappedIPv4IsItsIPv4() throws {
        let one = try SocketAddress(ipAddress: "2001:db8:1:2:aaaa::1", port: 1)
        let rotated = try SocketAddress(ipAddress: "2001:db8:1:2:ffff:ffff:ffff:fffe", port: 2)
        let neighbour = try SocketAddress(ipAddress: "2001:db8:1:3::1", port: 1)
        #expect(ClientAddress.key(of: one) == "v6:2001:db8:1:2::/64")
        #expect(ClientAddress.key(of: one) == ClientAddress.key(of: rotated), "rotating within its /64 changes nothing")
        #expect(ClientAddress.key(of: one) != ClientAddress.key(of: neighbour))
        #expect(ClientAddress.key(of: try SocketAddress(ipAddress: "::ffff:10.1.2.3", port: 1)) == "v4:10.1.2.3")
        #expect(ClientAddress.key(of: try SocketAddress(ipAddress: "10.1.2.3", port: 9)) == "v4:10.1.2.3")
        #expect(ClientAddress.key(of: "[2001:db8:1:2::7]:443") == "v6:2001:db8:1:2::/64")
        #expect(ClientAddress.key(of: " 192.0.2.1:8080 ") == "v4:192.0.2.1")
        #expect(ClientAddress.key(of: "not an address") == nil)
    }

    @Test func trustedProxiesAreMatchedByPrefixAndTheRightmostUntrustedEntryIsTheClient() throws {
        let proxies = TrustedProxies(
            prefixes: try ["10.0.0.0/8", "192.0.2.7", "fd00::/8"].map { try #require(TrustedProxies.Prefix($0)) })
        #expect(proxies.trusts(try SocketAddress(ipAddress: "10.200.1.1", port: 1)))
        #expect(proxies.trusts(try SocketAddress(ipAddress: "fd12::1", port: 1)))
        #expect(!proxies.trusts(try SocketAddress(ipAddress: "192.0.2.8", port: 1)))
        #expect(!proxies.trusts(try SocketAddress(ipAddress: "11.0.0.1", port: 1)))
        var headers = HTTPHeaders([("X-Forwarded-For", "203.0.113.9, 198.51.100.1"), ("X-Forwarded-For", "10.1.1.1")])
        #expect(
            proxies.forwardedClientKey(headers) == "v4:198.51.100.1",
            "the proxy chain is skipped, forged entries left of it ignored")
        headers = HTTPHeaders([("X-Forwarded-For", "10.1.1.1, 192.0.2.7")])
        #expect(proxies.forwardedClientKey(headers) == nil, "all proxies: the peer is the client")
        headers = HTTPHeaders([("X-Forwarded-For", "garbage, 10.1.1.1")])
        #expect(proxies.forwardedClientKey(headers) == nil, "garbage is not guessed at")
        for bad in ["10.0.0.0/33", "::/129", "host.example", "10.0.0.0/x", ""] {
            #expect(TrustedProxies.Prefix(bad) == nil, "\(bad)")
        }
        #expect(TrustedProxies.Prefix("0.0.0.0/0")?.contains([1, 2, 3, 4]) == true)
    }
}
