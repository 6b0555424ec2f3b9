import NIOCore

/// Appends JSON tokens straight into a `ByteBuffer`.
///
/// The hub writes every server message with this rather than `JSONEncoder`: the key order is fixed
/// (so `"type"` comes first and clients can dispatch on a prefix), nothing is allocated besides the
/// buffer, and a tick update costs well under a microsecond. It does not validate structure; the
/// callers in `ServerMessage` are the only users and are covered by tests that parse the output.
public struct JSONWriter {
    public var buffer: ByteBuffer
    private var needsComma = false

    public init(buffer: ByteBuffer) {
        self.buffer = buffer
    }

    public mutating func beginObject() {
        separate()
        buffer.writeInteger(UInt8(ascii: "{"))
        needsComma = false
    }

    public mutating func endObject() {
        buffer.writeInteger(UInt8(ascii: "}"))
        needsComma = true
    }

    public mutating func beginArray(key: StaticString) {
        self.key(key)
        buffer.writeInteger(UInt8(ascii: "["))
        needsComma = false
    }

    /// Starts an array as a value (top level or inside another array).
    public mutating func beginArrayValue() {
        separate()
        buffer.writeInteger(UInt8(ascii: "["))
        needsComma = false
    }

    public mutating func endArray() {
        buffer.writeInteger(UInt8(ascii: "]"))
        needsComma = true
    }

    /// Writes `"key":` (keys are compile-time constants that never need escaping).
    public mutating func key(_ key: StaticString) {
        separate()
        buffer.writeInteger(UInt8(ascii: "\""))
        buffer.writeStaticString(key)
        buffer.writeInteger(UInt8(ascii: "\""))
        buffer.writeInteger(UInt8(ascii: ":"))
        needsComma = false
    }

    public mutating func field(_ key: StaticString, _ value: StaticString) {
        self.key(key)
        buffer.writeInteger(UInt8(ascii: "\""))
        buffer.writeStaticString(value)
        buffer.writeInteger(UInt8(ascii: "\""))
        needsComma = true
    }

    public mutating func field(_ key: StaticString, _ value: String) {
        self.key(key)
        string(value)
    }

    public mutating func field<I: BinaryInteger>(_ key: StaticString, _ value: I) {
        self.key(key)
        integer(value)
    }

    public mutating func field(_ key: StaticString, _ value: Bool) {
        self.key(key)
        buffer.writeStaticString(value ? "true" : "false")
        needsComma = true
    }

    /// Prices are strings on the wire, as at Coinbase and Kraken, so no client parses them as floats.
    public mutating func field(_ key: StaticString, _ value: Price) {
        self.key(key)
        price(value)
    }

    /// A price as a string value (in an array, or after `key`).
    public mutating func price(_ value: Price) {
        separate()
        buffer.writeInteger(UInt8(ascii: "\""))
        value.withASCII { _ = buffer.writeBytes($0) }
        buffer.writeInteger(UInt8(ascii: "\""))
        needsComma = true
    }

    /// An integer as a string value (`"300"`): book sizes, which a JavaScript number could not hold
    /// exactly past 2^53.
    public mutating func quotedInteger<I: BinaryInteger>(_ value: I) {
        separate()
        buffer.writeInteger(UInt8(ascii: "\""))
        needsComma = false
        integer(value)
        buffer.writeInteger(UInt8(ascii: "\""))
        needsComma = true
    }

    /// `"key":null`, or `"key":N` when an id is present.
    public mutating func optionalField(_ key: StaticString, _ value: Int64?) {
        self.key(key)
        if let value {
            integer(value)
        } else {
            buffer.writeStaticString("null")
            needsComma = true
        }
    }

    public mutating func integer<I: BinaryInteger>(_ value: I) {
        separate()
        if value == 0 {
            buffer.writeInteger(UInt8(ascii: "0"))
        } else {
            // Digits are produced backwards into a small stack buffer, then copied once.
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 24) { scratch in
                var magnitude = value.magnitude
                var end = 24
                while magnitude > 0 {
                    end -= 1
                    scratch[end] = UInt8(ascii: "0") + UInt8(truncatingIfNeeded: magnitude % 10)
                    magnitude /= 10
                }
                if value < 0 {
                    end -= 1
                    scratch[end] = UInt8(ascii: "-")
                }
                buffer.writeBytes(UnsafeRawBufferPointer(UnsafeMutableBufferPointer(rebasing: scratch[end..<24])))
            }
        }
        needsComma = true
    }

    /// A JSON string with the escapes RFC 8259 requires (quote, backslash, control characters).
    public mutating func string(_ value: String) {
        separate()
        buffer.writeInteger(UInt8(ascii: "\""))
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\""): buffer.writeStaticString("\\\"")
            case UInt8(ascii: "\\"): buffer.writeStaticString("\\\\")
            case UInt8(ascii: "\n"): buffer.writeStaticString("\\n")
            case UInt8(ascii: "\r"): buffer.writeStaticString("\\r")
            case UInt8(ascii: "\t"): buffer.writeStaticString("\\t")
            case 0..<0x20:
                buffer.writeStaticString("\\u00")
                let hex: [UInt8] = Array("0123456789abcdef".utf8)
                buffer.writeInteger(hex[Int(byte >> 4)])
                buffer.writeInteger(hex[Int(byte & 0xF)])
            default:
                buffer.writeInteger(byte)
            }
        }
        buffer.writeInteger(UInt8(ascii: "\""))
        needsComma = true
    }

    private mutating func separate() {
        if needsComma { buffer.writeInteger(UInt8(ascii: ",")) }
    }
}
