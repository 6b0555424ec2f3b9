/// A subscription to every symbol whose name starts with a prefix: `"*"` (every symbol) or
/// `"EUR/*"` (every symbol starting `EUR/`). The `*` comes last and only once; the prefix is made of
/// the characters a `Symbol` allows, and is shorter than the longest symbol.
public struct SymbolPattern: Sendable, Hashable, CustomStringConvertible {
    public let prefix: String

    public init?(_ text: some StringProtocol) {
        let utf8 = Array(text.utf8)
        guard utf8.last == UInt8(ascii: "*"), utf8.count <= Symbol.maxLength else { return nil }
        let prefix = utf8.dropLast()
        guard prefix.allSatisfy(Symbol.isAllowed) else { return nil }
        self.prefix = String(decoding: prefix, as: UTF8.self)
    }

    /// Whether `text` is meant as a pattern (it has a `*`), valid or not.
    public static func isPattern(_ text: String) -> Bool { text.utf8.contains(UInt8(ascii: "*")) }

    public func matches(_ symbol: Symbol) -> Bool { symbol.name.hasPrefix(prefix) }

    public var description: String { prefix + "*" }
}
