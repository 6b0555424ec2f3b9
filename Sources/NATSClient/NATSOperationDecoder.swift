#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore

/// One operation from the server (the NATS client protocol, docs.nats.io "Client Protocol").
enum NATSServerOperation: Sendable {
    case info(NATSServerInfo)
    case message(NATSMessage)
    case ping
    case pong
    case ok
    case error(String)
}

enum NATSProtocolError: Error, Equatable {
    case controlLineTooLong
    case malformed(String)
    /// A message larger than the server's own `max_payload` (or 64 MiB, nats-server's ceiling).
    case payloadTooLarge(Int)
}

/// Splits the server's byte stream into operations. Every op is a control line ending in CRLF;
/// `MSG` and `HMSG` are followed by their payload (and headers) and another CRLF. Nothing is
/// consumed until the whole operation has arrived.
struct NATSOperationDecoder: ByteToMessageDecoder {
    typealias InboundOut = NATSServerOperation

    /// The longest control line accepted (nats-server's own limit is 4 KiB); past it the stream
    /// is broken and the connection is closed.
    static let maxControlLine = 64 * 1024
    /// nats-server refuses a `max_payload` above 64 MiB: no honest server sends more.
    static let payloadCeiling = 64 << 20

    /// The largest message the server may send: what its `INFO` says (1 MiB until then), never
    /// above `payloadCeiling`. A message announced larger breaks the stream instead of being
    /// buffered while it arrives.
    private(set) var maxPayload = 1 << 20

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let operation = try Self.decode(&buffer, maxPayload: maxPayload) else { return .needMoreData }
        if case .info(let info) = operation { maxPayload = min(max(info.maxPayload, 1), Self.payloadCeiling) }
        context.fireChannelRead(wrapInboundOut(operation))
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws
        -> DecodingState
    {
        try decode(context: context, buffer: &buffer)
    }

    /// The next whole operation in `buffer` (consumed), or nil if it has not all arrived.
    ///
    /// `MSG` and `HMSG` (nearly every operation of a busy subscriber) are parsed on the bytes, with
    /// no intermediate strings: a hub fed at 25,000 messages a second spent more of its CPU here than
    /// on fanning the ticks out while this went through `String`. The rare rest (`INFO`, `-ERR`, ...)
    /// go through `String`.
    static func decode(_ buffer: inout ByteBuffer, maxPayload: Int = payloadCeiling) throws -> NATSServerOperation? {
        guard
            let lineLength = buffer.withUnsafeReadableBytes({ raw -> Int? in
                guard let base = raw.baseAddress, let found = memchr(base, 0x0A, raw.count) else { return nil }
                return base.distance(to: UnsafeRawPointer(found)) + 1
            })
        else {
            if buffer.readableBytes > maxControlLine { throw NATSProtocolError.controlLineTooLong }
            return nil
        }
        guard lineLength <= maxControlLine else { throw NATSProtocolError.controlLineTooLong }
        let tokens = buffer.withUnsafeReadableBytes {
            ControlLine(UnsafeRawBufferPointer(rebasing: $0[0..<lineLength]))
        }
        switch tokens.operation {
        case .msg, .hmsg:
            return try message(tokens, lineLength: lineLength, maxPayload: maxPayload, in: &buffer)
        case .ping:
            buffer.moveReaderIndex(forwardBy: lineLength)
            return .ping
        case .pong:
            buffer.moveReaderIndex(forwardBy: lineLength)
            return .pong
        case .ok:
            buffer.moveReaderIndex(forwardBy: lineLength)
            return .ok
        case .other:
            let line = buffer.readString(length: lineLength)!.trimmed(of: "\r\n")
            let (op, rest) = splitOp(String(line))
            switch op {
            case "-ERR": return .error(String(rest.trimmed(of: " '")))
            case "INFO": return .info(try parseInfo(rest))
            default: throw NATSProtocolError.malformed(String(line))
            }
        }
    }

    /// `MSG <subject> <sid> [reply-to] <#bytes>` or `HMSG <subject> <sid> [reply-to] <#header bytes> <#total bytes>`.
    private static func message(_ line: ControlLine, lineLength: Int, maxPayload: Int, in buffer: inout ByteBuffer)
        throws -> NATSServerOperation?
    {
        let hasHeaders = line.operation == .hmsg
        let arguments = line.tokens.count - 1
        let sizes = hasHeaders ? 2 : 1
        func malformed() -> NATSProtocolError {
            .malformed(
                buffer.getString(at: buffer.readerIndex, length: lineLength)?.trimmed(of: "\r\n").description ?? "MSG")
        }
        guard arguments == 2 + sizes || arguments == 3 + sizes,
            let sid = line.integer(2, in: buffer), let total = line.integer(line.tokens.count - 1, in: buffer)
        else {
            throw malformed()
        }
        let headerLength = hasHeaders ? line.integer(line.tokens.count - 2, in: buffer) ?? -1 : 0
        guard headerLength >= 0, headerLength <= total else { throw malformed() }
        guard total <= maxPayload else { throw NATSProtocolError.payloadTooLarge(total) }
        // The payload and its CRLF must all be here.
        guard buffer.readableBytes >= lineLength + total + 2 else { return nil }
        let subject = line.string(1, in: buffer)
        let replyTo = arguments == 3 + sizes ? line.string(3, in: buffer) : nil
        buffer.moveReaderIndex(forwardBy: lineLength)
        var headers: [(name: String, value: String)] = []
        var status: Int?
        if hasHeaders {
            (headers, status) = try buffer.readSlice(length: headerLength)!.withUnsafeReadableBytes(parseHeaders)
        }
        let payload = buffer.readSlice(length: total - headerLength)!
        buffer.moveReaderIndex(forwardBy: 2)
        return .message(
            NATSMessage(
                subject: subject, sid: UInt64(sid), replyTo: replyTo, headers: headers, status: status, payload: payload
            ))
    }

    /// A control line cut at spaces and tabs, as byte ranges of the buffer's readable bytes.
    private struct ControlLine {
        enum Operation { case msg, hmsg, ping, pong, ok, other }
        var tokens: [Range<Int>] = []
        var operation = Operation.other

        init(_ line: UnsafeRawBufferPointer) {
            var end = line.count
            while end > 0, line[end - 1] == 0x0A || line[end - 1] == 0x0D { end -= 1 }
            tokens.reserveCapacity(6)
            var index = 0
            while index < end {
                while index < end, line[index] == 0x20 || line[index] == 0x09 { index += 1 }
                let start = index
                while index < end, line[index] != 0x20, line[index] != 0x09 { index += 1 }
                if index > start { tokens.append(start..<index) }
            }
            guard let first = tokens.first else { return }
            // Case-insensitive (the protocol allows either); clearing bit 5 upper-cases ASCII letters.
            func isOp(_ name: StaticString) -> Bool {
                guard first.count == name.utf8CodeUnitCount else { return false }
                return zip(line[first], UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
                    .allSatisfy {
                        ($0 & 0xDF) == ($1 & 0xDF)
                    }
            }
            if isOp("MSG") {
                operation = .msg
            } else if isOp("HMSG") {
                operation = .hmsg
            } else if isOp("PING") {
                operation = .ping
            } else if isOp("PONG") {
                operation = .pong
            } else if isOp("+OK") {
                operation = .ok
            }
        }

        func string(_ index: Int, in buffer: ByteBuffer) -> String {
            buffer.getString(at: buffer.readerIndex + tokens[index].lowerBound, length: tokens[index].count) ?? ""
        }

        /// A decimal, non-negative token (nil if it is not one, or past 18 digits).
        func integer(_ index: Int, in buffer: ByteBuffer) -> Int? {
            let range = tokens[index]
            guard range.count <= 18 else { return nil }
            return buffer.withUnsafeReadableBytes { raw in
                var value = 0
                for byte in raw[range] {
                    guard byte >= 0x30, byte <= 0x39 else { return nil }
                    value = value * 10 + Int(byte - 0x30)
                }
                return value
            }
        }
    }

    private static func splitOp(_ line: String) -> (String, String) {
        guard let space = line.firstIndex(where: { $0 == " " || $0 == "\t" }) else { return (line.uppercased(), "") }
        return (line[..<space].uppercased(), String(line[line.index(after: space)...]))
    }

    private struct RawInfo: Decodable {
        // The server's snake_case keys, read with `.convertFromSnakeCase`.
        var serverId: String?
        var version: String?
        var maxPayload: Int?
        var headers: Bool?
        var connectUrls: [String]?
    }

    static func parseInfo(_ json: String) throws -> NATSServerInfo {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        guard let raw = try? decoder.decode(RawInfo.self, from: Data(json.utf8)) else {
            throw NATSProtocolError.malformed("INFO \(json.prefix(200))")
        }
        return NATSServerInfo(
            serverID: raw.serverId ?? "", version: raw.version ?? "", maxPayload: raw.maxPayload ?? 1 << 20,
            headers: raw.headers ?? false, connectURLs: raw.connectUrls ?? [])
    }

    /// `NATS/1.0[ status[ description]]` CRLF, then `Name: value` lines, then an empty line.
    static func parseHeaders(_ block: UnsafeRawBufferPointer) throws -> ([(name: String, value: String)], Int?) {
        func malformed() -> NATSProtocolError {
            .malformed("headers \(String(decoding: block.prefix(80), as: UTF8.self))")
        }
        let version = "NATS/1.0".utf8
        guard block.count >= version.count, block.prefix(version.count).elementsEqual(version) else {
            throw malformed()
        }
        func lineEnd(from start: Int) -> Int {
            var index = start
            while index < block.count, block[index] != 0x0A { index += 1 }
            return index
        }
        func trimmed(_ range: Range<Int>) -> Range<Int> {
            var (start, end) = (range.lowerBound, range.upperBound)
            while start < end, block[start] == 0x20 || block[start] == 0x09 { start += 1 }
            while end > start, block[end - 1] == 0x20 || block[end - 1] == 0x09 || block[end - 1] == 0x0D { end -= 1 }
            return start..<end
        }
        var end = lineEnd(from: 0)
        var status: Int?
        var digits = trimmed(version.count..<end).lowerBound
        var code = 0
        while digits < end, block[digits] >= 0x30, block[digits] <= 0x39, code < 1000 {
            code = code * 10 + Int(block[digits] - 0x30)
            digits += 1
            status = code
        }
        var headers: [(name: String, value: String)] = []
        var start = end + 1
        while start < block.count {
            end = lineEnd(from: start)
            let line = trimmed(start..<end)
            start = end + 1
            guard !line.isEmpty else { continue }
            guard let colon = block[line].firstIndex(of: UInt8(ascii: ":")) else { throw malformed() }
            let name = trimmed(line.lowerBound..<colon), value = trimmed((colon + 1)..<line.upperBound)
            headers.append(
                (
                    String(decoding: UnsafeRawBufferPointer(rebasing: block[name]), as: UTF8.self),
                    String(decoding: UnsafeRawBufferPointer(rebasing: block[value]), as: UTF8.self)
                ))
        }
        return (headers, status)
    }
}

extension StringProtocol {
    /// Without the leading and trailing characters found in `characters`.
    func trimmed(of characters: String) -> SubSequence {
        let start = firstIndex { !characters.contains($0) } ?? endIndex
        let end = lastIndex { !characters.contains($0) }.map { index(after: $0) } ?? start
        return self[start..<Swift.max(start, end)]
    }
}
