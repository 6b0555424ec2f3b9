/// The checksum of a book's top levels, so a client can verify its copy after every message:
/// CRC-32 (IEEE 802.3, as zlib's `crc32`) of one ASCII string made of the top `depth` asks, best
/// (lowest) first, then the top `depth` bids, best (highest) first; each level as its price's
/// digits then its size's digits. A price's digits are its mantissa in decimal, which is its text
/// with the point and leading zeros removed (`"189.1200"` is `1891200`, `"0.0500"` is `500`), with a
/// `-` in front if negative; a size's are its decimal digits. Kraken's book checksum is built the
/// same way.
public enum BookChecksum {
    /// How many levels per side the checksum covers, whatever depth a subscriber asked for.
    public static let depth = 10

    public static func of(bids: some Collection<PriceLevel>, asks: some Collection<PriceLevel>) -> UInt32 {
        var crc = CRC32()
        for level in asks.prefix(depth) { crc.add(level) }
        for level in bids.prefix(depth) { crc.add(level) }
        return crc.value
    }
}

/// CRC-32 with the IEEE 802.3 polynomial (reflected, 0xEDB88320), initial value and final XOR
/// 0xFFFFFFFF: zlib's `crc32`, and what every language's standard CRC-32 computes, so a client can
/// use its own. `"123456789"` gives 0xCBF43926.
public struct CRC32: Sendable {
    private var state: UInt32 = 0xFFFF_FFFF

    public init() {}

    public var value: UInt32 { state ^ 0xFFFF_FFFF }

    public mutating func add(_ bytes: some Sequence<UInt8>) {
        for byte in bytes {
            state = Self.table[Int((state ^ UInt32(byte)) & 0xFF)] ^ (state >> 8)
        }
    }

    mutating func add(_ level: PriceLevel) {
        addDigits(level.price.mantissa)
        addDigits(level.size)
    }

    /// The decimal digits of `value`, with a `-` if negative, without building a string.
    private mutating func addDigits(_ value: Int64) {
        if value < 0 { add(CollectionOfOne(UInt8(ascii: "-"))) }
        var magnitude = value.magnitude
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: an Int64 has at most 19 digits
        withUnsafeMutableBytes(of: &digits) { scratch in
            var start = scratch.count
            repeat {
                start -= 1
                scratch[start] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
            } while magnitude > 0
            add(scratch[start...])
        }
    }

    private static let table: [UInt32] = (0..<256).map { index in
        var entry = UInt32(index)
        for _ in 0..<8 { entry = entry & 1 != 0 ? 0xEDB8_8320 ^ (entry >> 1) : entry >> 1 }
        return entry
    }
}
