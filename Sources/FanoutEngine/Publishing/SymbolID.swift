/// A dense id for a symbol, assigned in order of first appearance. Ids index the arrays of the
/// sequencer, the last-value cache and every loop's subscription index, so lookups on the fan-out
/// path are array accesses, not hashes.
public struct SymbolID: Hashable, Sendable, Comparable {
    public var rawValue: UInt32
    public init(_ rawValue: UInt32) { self.rawValue = rawValue }
    public var index: Int { Int(rawValue) }
    public static func < (lhs: SymbolID, rhs: SymbolID) -> Bool { lhs.rawValue < rhs.rawValue }
}
