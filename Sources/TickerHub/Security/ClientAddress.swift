import NIOCore
import NIOHTTP1

#if canImport(Glibc)
import Glibc
#endif

/// Who a connection counts as, for the per-client limits (`ConnectionLimits`): its IPv4 address, or
/// its IPv6 /64 (an IPv6 host is handed a whole /64 and can rotate through it at will, so counting
/// single addresses would be no limit at all). An IPv4-mapped IPv6 address counts as the IPv4 one.
///
/// Behind a load balancer every connection comes from the balancer. A peer that is one of
/// `--trusted-proxy` (addresses or CIDR prefixes) is not the client: the client is the rightmost
/// address of `X-Forwarded-For` that is not itself a trusted proxy (each proxy appends the address
/// it saw, so entries to the left of the last untrusted one are the client's to forge).
enum ClientAddress {
    /// The limits' key for `address`: "v4:a.b.c.d" or "v6:xxxx:xxxx:xxxx:xxxx::/64"; nil for a Unix socket.
    static func key(of address: SocketAddress?) -> String? {
        bytes(of: address).map(key(of:))
    }

    /// The key of an address in text (an `X-Forwarded-For` entry); nil if it is not an address.
    static func key(of text: Substring) -> String? {
        parse(text).map(key(of:))
    }

    private static func key(of bytes: [UInt8]) -> String {
        bytes.count == 4 ? key(v4: bytes) : key(v6: bytes)
    }

    private static func key(v4 bytes: [UInt8]) -> String {
        "v4:" + bytes.map { String($0) }.joined(separator: ".")
    }

    private static func key(v6 bytes: [UInt8]) -> String {
        if bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xFF, bytes[11] == 0xFF {
            return key(v4: Array(bytes[12..<16]))
        }
        let groups = stride(from: 0, to: 8, by: 2).map {
            String(UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]), radix: 16)
        }
        return "v6:" + groups.joined(separator: ":") + "::/64"
    }

    /// 4 or 16 bytes, from an IPv4 or IPv6 address in text (brackets and a port allowed).
    static func parse(_ text: Substring) -> [UInt8]? {
        var host = text.drop { $0 == " " || $0 == "\t" }
        while let last = host.last, last == " " || last == "\t" { host.removeLast() }
        if host.hasPrefix("["), let end = host.firstIndex(of: "]") {
            host = host[host.index(after: host.startIndex)..<end]
        } else if host.filter({ $0 == ":" }).count == 1, let colon = host.firstIndex(of: ":") {
            host = host[..<colon]  // a.b.c.d:port
        }
        var v4 = in_addr()
        if inet_pton(AF_INET, String(host), &v4) == 1 { return withUnsafeBytes(of: v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, String(host), &v6) == 1 { return withUnsafeBytes(of: v6) { Array($0) } }
        return nil
    }

    /// 4 or 16 bytes; nil for a Unix socket.
    static func bytes(of address: SocketAddress?) -> [UInt8]? {
        switch address {
        case .v4(let v4): withUnsafeBytes(of: v4.address.sin_addr) { Array($0) }
        case .v6(let v6): withUnsafeBytes(of: v6.address.sin6_addr) { Array($0) }
        default: nil
        }
    }
}

/// `--trusted-proxy`: the load balancers in front of the hub, as addresses or CIDR prefixes.
struct TrustedProxies: Sendable, Equatable {
    struct Prefix: Sendable, Equatable {
        let bytes: [UInt8]
        let length: Int

        /// "10.0.0.0/8", "fd00::/8" or a single address; nil if malformed.
        init?(_ text: String) {
            let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
            guard let bytes = ClientAddress.parse(parts[0]) else { return nil }
            let length = parts.count == 2 ? Int(parts[1]) : bytes.count * 8
            guard let length, (0...bytes.count * 8).contains(length) else { return nil }
            self.bytes = bytes
            self.length = length
        }

        func contains(_ address: [UInt8]) -> Bool {
            guard address.count == bytes.count else { return false }
            var remaining = length
            for (a, b) in zip(address, bytes) where remaining > 0 {
                let bits = min(8, remaining)
                let mask = UInt8(truncatingIfNeeded: 0xFF << (8 - bits))
                if a & mask != b & mask { return false }
                remaining -= bits
            }
            return true
        }
    }

    let prefixes: [Prefix]

    static let none = TrustedProxies(prefixes: [])

    init(prefixes: [Prefix]) {
        self.prefixes = prefixes
    }

    var isEmpty: Bool { prefixes.isEmpty }

    func trusts(_ address: [UInt8]) -> Bool {
        prefixes.contains { $0.contains(address) }
    }

    func trusts(_ address: SocketAddress?) -> Bool {
        guard !prefixes.isEmpty, let bytes = ClientAddress.bytes(of: address) else { return false }
        return trusts(bytes)
    }

    /// The client's key for a request that came through trusted proxies: the rightmost
    /// `X-Forwarded-For` entry that is not a trusted proxy; nil if there is none (then the peer
    /// itself is the client).
    func forwardedClientKey(_ headers: HTTPHeaders) -> String? {
        let entries = headers[canonicalForm: "X-Forwarded-For"].reversed()
        for entry in entries {
            guard let bytes = ClientAddress.parse(entry) else { return nil }  // garbage: do not guess
            if !trusts(bytes) { return ClientAddress.key(of: entry) }
        }
        return nil
    }
}
