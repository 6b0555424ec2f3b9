/// Parses `--source-addresses`: a comma-separated list of IPv4 addresses and ranges of the last
/// octet, e.g. `127.0.0.2-127.0.0.9,127.0.1.1`. Each local address gives its own ~28k ephemeral
/// ports towards one server port, so a swarm past that many connections spreads over several.
enum SourceAddressList {
    struct Invalid: Error, CustomStringConvertible {
        var text: Substring
        var description: String { "not an IPv4 address or a.b.c.x-a.b.c.y range: \(text)" }
    }

    static func parse(_ text: String) throws -> [String] {
        try text.split(separator: ",").flatMap { item -> [String] in
            let ends = item.split(separator: "-", maxSplits: 1)
            guard let first = octets(ends[0]) else { throw Invalid(text: item) }
            guard ends.count == 2 else { return [ends[0].trimmingWhitespace()] }
            guard let last = octets(ends[1]), first[0..<3] == last[0..<3], first[3] <= last[3] else {
                throw Invalid(text: item)
            }
            return (first[3]...last[3]).map { "\(first[0]).\(first[1]).\(first[2]).\($0)" }
        }
    }

    private static func octets(_ text: Substring) -> [Int]? {
        let parts = text.trimmingWhitespace().split(separator: ".").compactMap { Int($0) }
        return parts.count == 4 && parts.allSatisfy { (0...255).contains($0) } ? parts : nil
    }
}

extension Substring {
    fileprivate func trimmingWhitespace() -> String {
        String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}
