/// An instrument's ticker, such as `AAPL` or `BTC-USD`.
///
/// Validated on construction so that anything holding a `Symbol` can put it into JSON without
/// escaping and into the binary codec within its one-byte length prefix.
public struct Symbol: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let name: String

    /// Longest accepted ticker, in bytes.
    public static let maxLength = 16

    /// Accepts 1...16 characters from `A-Z 0-9 . - _ /`.
    public init?(_ name: some StringProtocol) {
        let utf8 = name.utf8
        guard !utf8.isEmpty, utf8.count <= Symbol.maxLength, utf8.allSatisfy(Symbol.isAllowed) else { return nil }
        self.name = String(name)
    }

    @inlinable
    static func isAllowed(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "."), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "/"):
            return true
        default:
            return false
        }
    }

    public var description: String { name }
    public static func < (lhs: Symbol, rhs: Symbol) -> Bool { lhs.name < rhs.name }
}

extension Symbol: ExpressibleByStringLiteral {
    /// For literals in code and tests (`let aapl: Symbol = "AAPL"`); an invalid literal is a programmer error.
    public init(stringLiteral value: String) {
        guard let symbol = Symbol(value) else { preconditionFailure("invalid symbol literal \(value)") }
        self = symbol
    }
}
