/// Which symbols a token lets its holder see (its `symbols` claim) or publish (`publish`): exact
/// names, and prefixes ending in `*`, such as `["AAPL", "FX:*"]`. `"*"` alone is every symbol.
/// Exchanges license data per user and per symbol; this is the check that enforces it, once per
/// symbol of a subscribe, never on the fan-out path.
public struct SymbolEntitlement: Sendable, Equatable, CustomStringConvertible {
    /// Names granted exactly.
    private let names: Set<String>
    /// Granted prefixes (the pattern without its `*`); "" grants everything.
    private let prefixes: [String]

    /// Every symbol: the grant when auth is off.
    public static let everything = SymbolEntitlement(patterns: ["*"])
    public static let nothing = SymbolEntitlement(patterns: [])

    public init(patterns: [String]) {
        var names = Set<String>()
        var prefixes = [String]()
        for pattern in patterns {
            if pattern.hasSuffix("*") {
                prefixes.append(String(pattern.dropLast()))
            } else {
                names.insert(pattern)
            }
        }
        self.names = names
        // The shortest first: "" (everything) then ends the search at once.
        self.prefixes = prefixes.sorted { $0.count < $1.count }
    }

    public var isEverything: Bool { prefixes.first == "" }

    public func allows(_ symbol: String) -> Bool {
        names.contains(symbol) || prefixes.contains { symbol.hasPrefix($0) }
    }

    /// Splits `symbols` into those allowed and those not, each in its original order.
    public func partition(_ symbols: [String]) -> (allowed: [String], refused: [String]) {
        guard !isEverything else { return (symbols, []) }
        var allowed = [String]()
        var refused = [String]()
        for symbol in symbols {
            if allows(symbol) { allowed.append(symbol) } else { refused.append(symbol) }
        }
        return (allowed, refused)
    }

    public var description: String {
        (names.sorted() + prefixes.map { $0 + "*" }).joined(separator: ",")
    }
}
