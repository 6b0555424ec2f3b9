import Foundation
import Testing
@testable import TickerHub

#if canImport(Glibc)
import Glibc
#endif

/// The owned transport inside a real hub (`--transport owned`), in this process: a subscriber's
/// whole life over a real socket, and the hub's bookkeeping after it. The Python suite runs the
/// protocol's tests on this transport too (HUB_TEST_TRANSPORT=owned); these check what only the
/// process sees: its connection count, and that the hub stops with its owned loops.
@Suite(.serialized) struct OwnedTransportTests {
    @Test func aSubscriberIsServedHandedOverAndForgotten() async throws {
        try await withHub({ $0.transport = .owned }) { hub, base in
            let client = try await onOwnThread { try BlockingWebSocketClient(port: base.port!) }
            #expect(try await onOwnThread { try client.readText() }.contains(#""type":"welcome""#))
            let seen = try await onOwnThread { () throws -> Set<String> in
                try client.sendText(#"{"op":"subscribe","symbols":["AAPL"],"id":1}"#)
                var types: Set<String> = []
                while !types.isSuperset(of: ["ack", "snapshot", "quote"]) {
                    let text = try client.readText()
                    for type in ["ack", "snapshot", "quote"] where text.contains(#""type":"\#(type)""#) {
                        types.insert(type)
                    }
                }
                return types
            }
            #expect(seen == ["ack", "snapshot", "quote"])
            #expect(hub.connections.count == 1)
            let closeCode = try await onOwnThread {
                try client.sendClose()
                defer { client.close() }
                return try client.readCloseCode()
            }
            #expect(closeCode == 1000)
            for _ in 0..<500 where hub.connections.count > 0 { try await Task.sleep(for: .milliseconds(20)) }
            #expect(hub.connections.count == 0)
        }
    }

    @Test func aHubStopsWithItsSubscribersSaidGoodbyeTo() async throws {
        var clients: [BlockingWebSocketClient] = []
        try await withHub({ $0.transport = .owned }) { hub, base in
            for _ in 0..<10 {
                let client = try await onOwnThread { try BlockingWebSocketClient(port: base.port!) }
                #expect(try await onOwnThread { try client.readText() }.contains(#""type":"welcome""#))
                clients.append(client)
            }
            for _ in 0..<500 where hub.connections.count < 10 { try await Task.sleep(for: .milliseconds(20)) }
            #expect(hub.connections.count == 10)
        }
        // `withHub` stopped the hub: each client was sent 1001 before its connection ended.
        for client in clients {
            #expect(try await onOwnThread { try client.readCloseCode() } == 1001)
            client.close()
        }
    }
}

/// Runs blocking socket work on a thread of its own: on the cooperative pool (two threads here) it
/// would hold up every other task of the test run, the hubs' feeds included.
func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread { continuation.resume(with: Result { try body() }) }
    }
}

/// A minimal blocking WebSocket client over a POSIX socket, for tests: the handshake, masked text
/// and Close frames out, unmasked frames in. Used by one thread at a time (`onOwnThread`).
final class BlockingWebSocketClient: @unchecked Sendable {
    private let descriptor: CInt
    private var received: [UInt8] = []

    init(port: Int) throws {
        descriptor = socket(AF_INET, CInt(SOCK_STREAM.rawValue), 0)
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { throw Failure("connect: errno \(errno)") }
        try send(
            Array(
                """
                GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection:\
                 Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n
                """
                .utf8))
        let end = Array("\r\n\r\n".utf8)
        while true {
            if let range = received.firstRange(of: end) {
                let head = String(decoding: received[..<range.lowerBound], as: UTF8.self)
                received.removeSubrange(..<range.upperBound)
                guard head.hasPrefix("HTTP/1.1 101") else { throw Failure("not upgraded: \(head)") }
                return
            }
            try receiveMore()
        }
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    func sendText(_ text: String) throws { try send(Self.frame(opcode: 0x1, payload: Array(text.utf8))) }

    func sendClose() throws { try send(Self.frame(opcode: 0x8, payload: [0x03, 0xE8])) }

    func sendPing() throws { try send(Self.frame(opcode: 0x9, payload: Array("are you there".utf8))) }

    /// Every frame's opcode and payload until the server ends the connection (or `SO_RCVTIMEO`).
    func framesUntilEnd() -> [(opcode: UInt8, payload: [UInt8])] {
        var frames: [(UInt8, [UInt8])] = []
        while let frame = try? nextFrame() { frames.append(frame) }
        return frames
    }

    /// The next text message (skipping pings and pongs).
    func readText() throws -> String {
        while true {
            let (opcode, payload) = try nextFrame()
            if opcode == 0x1 { return String(decoding: payload, as: UTF8.self) }
            if opcode == 0x8 { throw Failure("closed: \(payload)") }
        }
    }

    /// Reads until the server's Close; its code.
    func readCloseCode() throws -> Int {
        while true {
            let (opcode, payload) = try nextFrame()
            if opcode == 0x8 { return payload.count >= 2 ? Int(payload[0]) << 8 | Int(payload[1]) : 1005 }
        }
    }

    func close() { Glibc.close(descriptor) }

    /// The next frame, whatever it is.
    func nextFrame() throws -> (opcode: UInt8, payload: [UInt8]) {
        try need(2)
        let opcode = received[0] & 0x0F
        var length = Int(received[1] & 0x7F)
        var start = 2
        if length == 126 {
            try need(4)
            length = Int(received[2]) << 8 | Int(received[3])
            start = 4
        } else if length == 127 {
            try need(10)
            length = received[2..<10].reduce(0) { $0 << 8 | Int($1) }
            start = 10
        }
        try need(start + length)
        let payload = Array(received[start..<start + length])
        received.removeSubrange(..<(start + length))
        return (opcode, payload)
    }

    private func need(_ count: Int) throws {
        while received.count < count { try receiveMore() }
    }

    private func receiveMore() throws {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let count = chunk.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { throw Failure(count == 0 ? "closed by the server" : "recv: errno \(errno)") }
        received.append(contentsOf: chunk[..<count])
    }

    private func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes {
                Glibc.send(descriptor, $0.baseAddress, $0.count, CInt(MSG_NOSIGNAL))
            }
            guard sent > 0 else { throw Failure("send: errno \(errno)") }
            offset += sent
        }
    }

    /// A final client frame: masked (RFC 6455 §5.3), short payloads only.
    private static func frame(opcode: UInt8, payload: [UInt8]) -> [UInt8] {
        precondition(payload.count < 126)
        let mask: [UInt8] = [0x12, 0x34, 0x56, 0x78]
        return [0x80 | opcode, 0x80 | UInt8(payload.count)] + mask + payload.enumerated().map { $1 ^ mask[$0 % 4] }
    }
}
