#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import NIOCore

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
        var noResponders = true
        var echo = true
        var user: String?
        var pass: String?
        var authToken: String?
    }

    static func connect(_ connect: Connect, into buffer: inout ByteBuffer) {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase  // no_responders, auth_token: the server's keys
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

    /// `PUB`, or `HPUB` when there are headers. Written piece by piece, without building strings:
    /// a publisher sends one of these per tick.
    /// A batch of messages, in one buffer for one write.
    static func publish(_ messages: [NATSOutgoingMessage], allocator: ByteBufferAllocator) -> ByteBuffer {
        var size = 0
        for message in messages { size += message.payload.readableBytes + message.subject.utf8.count + 48 }
        var buffer = allocator.buffer(capacity: size)
        for message in messages {
            publish(
                subject: message.subject, replyTo: message.replyTo, headers: message.headers,
                payload: message.payload, into: &buffer)
        }
        return buffer
    }

    static func publish(
        subject: String, replyTo: String?, headers: [(name: String, value: String)], payload: ByteBuffer,
        into buffer: inout ByteBuffer
    ) {
        var headerLength = 0
        if !headers.isEmpty {
            headerLength = "NATS/1.0\r\n\r\n".utf8.count
            for (name, value) in headers { headerLength += name.utf8.count + 2 + value.utf8.count + 2 }
        }
        buffer.writeStaticString(headers.isEmpty ? "PUB " : "HPUB ")
        buffer.writeString(subject)
        if let replyTo {
            buffer.writeStaticString(" ")
            buffer.writeString(replyTo)
        }
        if !headers.isEmpty {
            buffer.writeStaticString(" ")
            writeDecimal(headerLength, into: &buffer)
        }
        buffer.writeStaticString(" ")
        writeDecimal(headerLength + payload.readableBytes, into: &buffer)
        buffer.writeStaticString("\r\n")
        if !headers.isEmpty {
            buffer.writeStaticString("NATS/1.0\r\n")
            for (name, value) in headers {
                buffer.writeString(name)
                buffer.writeStaticString(": ")
                buffer.writeString(value)
                buffer.writeStaticString("\r\n")
            }
            buffer.writeStaticString("\r\n")
        }
        var payload = payload
        buffer.writeBuffer(&payload)
        buffer.writeStaticString("\r\n")
    }

    private static func writeDecimal(_ value: Int, into buffer: inout ByteBuffer) {
        var digits:
            (
                UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                UInt8, UInt8, UInt8, UInt8, UInt8
            ) =
                (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var remaining = max(0, value)
        var count = 0
        withUnsafeMutableBytes(of: &digits) { raw in
            repeat {
                raw[19 - count] = UInt8(ascii: "0") + UInt8(remaining % 10)
                remaining /= 10
                count += 1
            } while remaining > 0
            buffer.writeBytes(UnsafeRawBufferPointer(rebasing: raw[(20 - count)...]))
        }
    }

    /// A subject token may not be empty nor hold spaces, tabs or line breaks.
    static func isValidSubject(_ subject: String) -> Bool {
        !subject.isEmpty && !subject.utf8.contains { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D || $0 == 0x0A }
            && !subject.split(separator: ".", omittingEmptySubsequences: false).contains { $0.isEmpty }
    }
}
