/// Reads just what the swarm measures from a v1 server message, without a JSON parser: the type
/// (always the first field); for updates, conflated values and snapshots the `symbol`, `seq` and `ts`
/// that follow it in that order; and for a `stats` reply the connection's `dropped` count (in `seq`)
/// and `throttled` count (which follows it).
/// A full parse per message would make the load tool, not the hub, the bottleneck.
struct ScannedMessage: Equatable {
    enum Kind: Equatable {
        case quote, trade, conflated, snapshot, stats, status, welcome, heartbeat, ack, error, other
    }
    var kind: Kind
    /// FNV-1a hash of the symbol bytes (0 when absent); for a `welcome`, of its `epoch`.
    var symbolHash: UInt64 = 0
    var seq: UInt64 = 0
    var ts: UInt64 = 0
    /// A `stats` reply's `throttled` and `upstream` counts.
    var throttled: UInt64 = 0
    var upstream: UInt64 = 0
}

enum UpdateScanner {
    private static let typePrefix = Array(#"{"type":""#.utf8)

    static func scan(_ bytes: UnsafeRawBufferPointer) -> ScannedMessage {
        guard bytes.count > typePrefix.count, bytes.starts(with: typePrefix) else {
            return ScannedMessage(kind: .other)
        }
        var cursor = typePrefix.count
        let kind: ScannedMessage.Kind
        switch bytes[cursor] {
        case UInt8(ascii: "q"): kind = .quote
        case UInt8(ascii: "t"): kind = .trade
        case UInt8(ascii: "c"): kind = .conflated
        case UInt8(ascii: "s") where bytes.count > cursor + 1 && bytes[cursor + 1] == UInt8(ascii: "n"):
            kind = .snapshot
        // "stats" and "status" share their first four letters.
        case UInt8(ascii: "s") where bytes.count > cursor + 4 && bytes[cursor + 1] == UInt8(ascii: "t"):
            kind = bytes[cursor + 4] == UInt8(ascii: "s") ? .stats : .status
        case UInt8(ascii: "w"): kind = .welcome
        case UInt8(ascii: "h"): kind = .heartbeat
        case UInt8(ascii: "a"): kind = .ack
        case UInt8(ascii: "e"): kind = .error
        default: return ScannedMessage(kind: .other)
        }
        var message = ScannedMessage(kind: kind)
        if kind == .stats {
            if let droppedStart = find(#""dropped":"#, in: bytes, from: &cursor) {
                message.seq = integer(in: bytes, at: droppedStart, end: &cursor)
            }
            if let throttledStart = find(#""throttled":"#, in: bytes, from: &cursor) {
                message.throttled = integer(in: bytes, at: throttledStart, end: &cursor)
            }
            if let upstreamStart = find(#""upstream":"#, in: bytes, from: &cursor) {
                message.upstream = integer(in: bytes, at: upstreamStart, end: &cursor)
            }
            return message
        }
        if kind == .welcome {
            if let epochStart = find(#""epoch":""#, in: bytes, from: &cursor) {
                message.symbolHash = hash(in: bytes, from: epochStart).hash
            }
            return message
        }
        guard kind == .quote || kind == .trade || kind == .conflated || kind == .snapshot else { return message }
        guard let symbolStart = find(#""symbol":""#, in: bytes, from: &cursor) else { return message }
        (message.symbolHash, cursor) = hash(in: bytes, from: symbolStart)
        if let seqStart = find(#""seq":"#, in: bytes, from: &cursor) {
            message.seq = integer(in: bytes, at: seqStart, end: &cursor)
        }
        if let tsStart = find(#""ts":"#, in: bytes, from: &cursor) {
            message.ts = integer(in: bytes, at: tsStart, end: &cursor)
        }
        return message
    }

    /// FNV-1a of a JSON string's bytes from `start` to its closing quote, and the quote's position.
    private static func hash(in bytes: UnsafeRawBufferPointer, from start: Int) -> (hash: UInt64, end: Int) {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        var index = start
        while index < bytes.count, bytes[index] != UInt8(ascii: "\"") {
            hash = (hash ^ UInt64(bytes[index])) &* 0x100_0000_01B3
            index += 1
        }
        return (hash, index)
    }

    /// Position just after `needle`, searching from `cursor`.
    private static func find(_ needle: StaticString, in bytes: UnsafeRawBufferPointer, from cursor: inout Int) -> Int? {
        let pattern = UnsafeRawBufferPointer(start: needle.utf8Start, count: needle.utf8CodeUnitCount)
        guard pattern.count <= bytes.count else { return nil }
        var start = cursor
        while start + pattern.count <= bytes.count {
            if bytes[start] == pattern[0],
                UnsafeRawBufferPointer(rebasing: bytes[start..<(start + pattern.count)]).elementsEqual(pattern)
            {
                cursor = start + pattern.count
                return cursor
            }
            start += 1
        }
        return nil
    }

    private static func integer(in bytes: UnsafeRawBufferPointer, at start: Int, end: inout Int) -> UInt64 {
        var value: UInt64 = 0
        var index = start
        while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") {
            value = value &* 10 &+ UInt64(bytes[index] - UInt8(ascii: "0"))
            index += 1
        }
        end = index
        return value
    }
}
