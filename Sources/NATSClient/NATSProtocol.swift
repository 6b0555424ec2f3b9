#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
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
}

/// Splits the server's byte stream into operations. Every op is a control line ending in CRLF;
/// `MSG` and `HMSG` are followed by their payload (and headers) and another CRLF. Nothing is
/// consumed until the whole operation has arrived.
struct NATSOperationDecoder: ByteToMessageDecoder {
    typealias InboundOut = NATSServerOperation

    /// The longest control line accepted (nats-server's own limit is 4 KiB); past it the stream
    /// is broken and the connection is closed.
    static let maxControlLine = 64 * 1024

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let operation = try Self.decode(&buffer) else { return .needMoreData }
        context.fireChannelRead(wrapInboundOut(operation))
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        try decode(context: context, buffer: &buffer)
    }

    /// The next whole operation in `buffer` (consumed), or nil if it has not all arrived.
    static func decode(_ buffer: inout ByteBuffer) throws -> NATSServerOperation? {
        let view = buffer.readableBytesView
        guard let lineEnd = view.firstIndex(of: UInt8(ascii: "\n")) else {
            if view.count > maxControlLine { throw NATSProtocolError.controlLineTooLong }
            return nil
        }
        let lineLength = lineEnd - view.startIndex + 1
        guard lineLength <= maxControlLine else { throw NATSProtocolError.controlLineTooLong }
        var lineBytes = view[view.startIndex..<lineEnd]
        if lineBytes.last == UInt8(ascii: "\r") { lineBytes = lineBytes.dropLast() }
        let line = String(decoding: lineBytes, as: UTF8.self)
        let (op, rest) = splitOp(line)
        switch op {
        case "MSG", "HMSG":
            let args = rest.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            let hasHeaders = op == "HMSG"
            let sizes = hasHeaders ? 2 : 1
            guard args.count == 2 + sizes || args.count == 3 + sizes,
                  let sid = UInt64(args[1]), let total = Int(args[args.count - 1]), total >= 0 else {
                throw NATSProtocolError.malformed(line)
            }
            let headerLength = hasHeaders ? Int(args[args.count - 2]) ?? -1 : 0
            guard headerLength >= 0, headerLength <= total else { throw NATSProtocolError.malformed(line) }
            // The payload and its CRLF must all be here.
            guard buffer.readableBytes >= lineLength + total + 2 else { return nil }
            buffer.moveReaderIndex(forwardBy: lineLength)
            var headers: [(name: String, value: String)] = []
            var status: Int?
            if hasHeaders {
                let block = buffer.readString(length: headerLength) ?? ""
                (headers, status) = try parseHeaders(block)
            }
            let payload = buffer.readSlice(length: total - headerLength)!
            buffer.moveReaderIndex(forwardBy: 2)
            return .message(NATSMessage(subject: args[0], sid: sid, replyTo: args.count == 3 + sizes ? args[2] : nil,
                                        headers: headers, status: status, payload: payload))
        default:
            buffer.moveReaderIndex(forwardBy: lineLength)
            switch op {
            case "PING": return .ping
            case "PONG": return .pong
            case "+OK": return .ok
            case "-ERR": return .error(String(rest.trimmed(of: " '")))
            case "INFO": return .info(try parseInfo(rest))
            default: throw NATSProtocolError.malformed(line)
            }
        }
    }

    private static func splitOp(_ line: String) -> (String, String) {
        guard let space = line.firstIndex(where: { $0 == " " || $0 == "\t" }) else { return (line.uppercased(), "") }
        return (line[..<space].uppercased(), String(line[line.index(after: space)...]))
    }

    private struct RawInfo: Decodable {
        var server_id: String?
        var version: String?
        var max_payload: Int?
        var headers: Bool?
        var connect_urls: [String]?
    }

    static func parseInfo(_ json: String) throws -> NATSServerInfo {
        guard let raw = try? JSONDecoder().decode(RawInfo.self, from: Data(json.utf8)) else {
            throw NATSProtocolError.malformed("INFO \(json.prefix(200))")
        }
        return NATSServerInfo(serverID: raw.server_id ?? "", version: raw.version ?? "", maxPayload: raw.max_payload ?? 1 << 20,
                              headers: raw.headers ?? false, connectURLs: raw.connect_urls ?? [])
    }

    /// `NATS/1.0[ status[ description]]` CRLF, then `Name: value` lines, then an empty line.
    static func parseHeaders(_ block: String) throws -> ([(name: String, value: String)], Int?) {
        var lines = block.split(separator: "\r\n", omittingEmptySubsequences: false).map(String.init)
        guard let first = lines.first, first.hasPrefix("NATS/1.0") else { throw NATSProtocolError.malformed("headers \(block.prefix(80))") }
        lines.removeFirst()
        let statusText = first.dropFirst("NATS/1.0".count).trimmed(of: " \t")
        let status = statusText.split(separator: " ").first.flatMap { Int($0) }
        var headers: [(name: String, value: String)] = []
        for line in lines where !line.isEmpty {
            guard let colon = line.firstIndex(of: ":") else { throw NATSProtocolError.malformed("header \(line.prefix(80))") }
            headers.append((String(line[..<colon]), String(line[line.index(after: colon)...].trimmed(of: " \t"))))
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

/// The client's side of the protocol, written straight into a buffer.
enum NATSCommand {
    struct Connect: Encodable {
        var verbose = false
        var pedantic = false
        var name: String
        var lang = "swift"
        var version = "0.1.0"
        var `protocol` = 1
        var headers = true
        var no_responders = true
        var echo = true
        var user: String?
        var pass: String?
        var auth_token: String?
    }

    static func connect(_ connect: Connect, into buffer: inout ByteBuffer) {
        let encoder = JSONEncoder()
        let json = (try? encoder.encode(connect)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        buffer.writeString("CONNECT \(json)\r\n")
    }

    static func subscribe(subject: String, queue: String?, sid: UInt64, into buffer: inout ByteBuffer) {
        buffer.writeString(queue.map { "SUB \(subject) \($0) \(sid)\r\n" } ?? "SUB \(subject) \(sid)\r\n")
    }

    static func unsubscribe(sid: UInt64, into buffer: inout ByteBuffer) {
        buffer.writeString("UNSUB \(sid)\r\n")
    }

    static func ping(into buffer: inout ByteBuffer) { buffer.writeStaticString("PING\r\n") }
    static func pong(into buffer: inout ByteBuffer) { buffer.writeStaticString("PONG\r\n") }

    /// `PUB`, or `HPUB` when there are headers.
    static func publish(subject: String, replyTo: String?, headers: [(name: String, value: String)], payload: ByteBuffer,
                        into buffer: inout ByteBuffer) {
        let reply = replyTo.map { " \($0)" } ?? ""
        if headers.isEmpty {
            buffer.writeString("PUB \(subject)\(reply) \(payload.readableBytes)\r\n")
        } else {
            var block = "NATS/1.0\r\n"
            for (name, value) in headers { block += "\(name): \(value)\r\n" }
            block += "\r\n"
            let headerLength = block.utf8.count
            buffer.writeString("HPUB \(subject)\(reply) \(headerLength) \(headerLength + payload.readableBytes)\r\n")
            buffer.writeString(block)
        }
        var payload = payload
        buffer.writeBuffer(&payload)
        buffer.writeStaticString("\r\n")
    }

    /// A subject token may not be empty nor hold spaces, tabs or line breaks.
    static func isValidSubject(_ subject: String) -> Bool {
        !subject.isEmpty && !subject.utf8.contains { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D || $0 == 0x0A }
            && !subject.split(separator: ".", omittingEmptySubsequences: false).contains { $0.isEmpty }
    }
}
