/// The servers a client may connect to: the configured ones, then the cluster members they announce
/// (`INFO`'s `connect_urls`), tried in turn.
struct ServerPool {
    struct Address: Hashable, CustomStringConvertible {
        var host: String
        var port: Int
        var description: String { "\(host):\(port)" }

        /// `nats://host:port`, `host:port` or `host` (port 4222).
        init?(_ text: String) {
            var rest = Substring(text)
            if let colon = rest.firstIndex(of: ":"), rest[colon...].hasPrefix("://") {
                guard rest[..<colon] == "nats" else { return nil }
                rest = rest[rest.index(colon, offsetBy: 3)...]
            }
            if let slash = rest.firstIndex(of: "/") { rest = rest[..<slash] }
            if let colon = rest.lastIndex(of: ":"), !rest.hasSuffix("]") {
                guard let port = Int(rest[rest.index(after: colon)...]), (1...65535).contains(port) else { return nil }
                host = String(rest[..<colon])
                self.port = port
            } else {
                host = String(rest)
                port = 4222
            }
            if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }  // [::1]
            guard !host.isEmpty else { return nil }
        }
    }

    private(set) var addresses: [Address]
    private var index = 0

    init(configured: [String]) {
        addresses = []
        for text in configured {
            if let address = Address(text), !addresses.contains(address) { addresses.append(address) }
        }
        precondition(!addresses.isEmpty, "no valid NATS server in \(configured)")
    }

    static func isValid(_ text: String) -> Bool { Address(text) != nil }

    /// The next server to try, round the pool.
    mutating func next() -> Address {
        defer { index = (index + 1) % addresses.count }
        return addresses[index]
    }

    func peek() -> Address { addresses[index % addresses.count] }

    /// Adds announced members not yet known.
    mutating func learn(_ urls: [String]) {
        for text in urls {
            if let address = Address(text), !addresses.contains(address) { addresses.append(address) }
        }
    }
}
