/// A fixed-point decimal: `mantissa × 10^-scale`.
///
/// Prices never pass through `Double`: they are quantised integers from the simulator or the
/// ingest codec to the JSON string on the wire, so `"189.1200"` is exactly what was published.
/// The scale is kept (not normalised) because it is part of how the instrument is quoted:
/// a price with scale 4 always prints four decimals.
public struct Price: Sendable, Hashable {
    public var mantissa: Int64
    public var scale: UInt8

    /// Largest supported scale. 10^18 is the largest power of ten that fits in an Int64.
    public static let maxScale: UInt8 = 18

    public init(mantissa: Int64, scale: UInt8) {
        precondition(scale <= Price.maxScale, "scale must be at most \(Price.maxScale)")
        self.mantissa = mantissa
        self.scale = scale
    }

    /// Parses a plain decimal string such as `"189.12"` or `"-0.5"`. No exponent, no grouping.
    /// The scale is the number of digits after the point.
    public init?(_ text: Substring) {
        var utf8 = text.utf8[...]
        var negative = false
        if utf8.first == UInt8(ascii: "-") {
            negative = true
            utf8 = utf8.dropFirst()
        }
        guard !utf8.isEmpty else { return nil }
        var mantissa: Int64 = 0
        var scale: UInt8 = 0
        var seenPoint = false
        var digits = 0
        for byte in utf8 {
            if byte == UInt8(ascii: ".") {
                guard !seenPoint else { return nil }
                seenPoint = true
                continue
            }
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            let (timesTen, o1) = mantissa.multipliedReportingOverflow(by: 10)
            let (sum, o2) = timesTen.addingReportingOverflow(Int64(byte - UInt8(ascii: "0")))
            guard !o1, !o2 else { return nil }
            mantissa = sum
            digits += 1
            if seenPoint {
                scale += 1
                guard scale <= Price.maxScale else { return nil }
            }
        }
        guard digits > 0 else { return nil }
        self.init(mantissa: negative ? -mantissa : mantissa, scale: scale)
    }

    public init?(_ text: String) { self.init(text[...]) }

    /// The same value expressed with another scale, or nil if that loses digits or overflows.
    public func rescaled(to newScale: UInt8) -> Price? {
        guard newScale <= Price.maxScale else { return nil }
        if newScale == scale { return self }
        if newScale > scale {
            let (m, overflow) = mantissa.multipliedReportingOverflow(by: Price.powerOfTen(newScale - scale))
            return overflow ? nil : Price(mantissa: m, scale: newScale)
        }
        let divisor = Price.powerOfTen(scale - newScale)
        guard mantissa % divisor == 0 else { return nil }
        return Price(mantissa: mantissa / divisor, scale: newScale)
    }

    @inlinable
    public static func powerOfTen(_ exponent: UInt8) -> Int64 {
        var result: Int64 = 1
        for _ in 0..<exponent { result &*= 10 }
        return result
    }
}

extension Price: Comparable {
    /// Compares by value, whatever the scales. Equal values with different scales are ordered by
    /// scale so that `<` stays a strict weak ordering consistent with `==` (which compares both fields).
    public static func < (lhs: Price, rhs: Price) -> Bool {
        if lhs.scale == rhs.scale { return lhs.mantissa < rhs.mantissa }
        let common = max(lhs.scale, rhs.scale)
        if let l = lhs.rescaled(to: common), let r = rhs.rescaled(to: common), l.mantissa != r.mantissa {
            return l.mantissa < r.mantissa
        }
        return lhs.scale < rhs.scale
    }
}

extension Price: CustomStringConvertible {
    /// Always prints exactly `scale` decimals: `Price(mantissa: 1891200, scale: 4)` is `"189.1200"`.
    public var description: String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(24)
        appendASCII(to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends the decimal text to `bytes`. Used by the JSON encoder on the hot path,
    /// so it avoids intermediate `String`s.
    @inlinable
    public func appendASCII(to bytes: inout [UInt8]) {
        withASCII { bytes.append(contentsOf: $0) }
    }

    /// Calls `body` with the decimal text in a stack buffer.
    @inlinable
    public func withASCII<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        // 20 digits + sign + point + leading zeros for scale up to 18 fits in 48 bytes.
        try withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 48) { scratch in
            var magnitude = mantissa.magnitude
            var end = 48
            var written = 0
            repeat {
                if written == Int(scale), scale > 0 {
                    end -= 1
                    scratch[end] = UInt8(ascii: ".")
                }
                end -= 1
                scratch[end] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
                written += 1
            } while magnitude > 0 || written <= Int(scale)
            if mantissa < 0 {
                end -= 1
                scratch[end] = UInt8(ascii: "-")
            }
            return try body(UnsafeRawBufferPointer(UnsafeMutableBufferPointer(rebasing: scratch[end..<48])))
        }
    }
}
