import Foundation
import NIOCore
import NIOPosix
import Testing
@testable import NATSClient

/// The NATS client against real `nats-server` processes: the protocol (publish, subscribe, headers,
/// request and reply, queue groups, unsubscribe), and staying connected (a restarted server, a
/// cluster member that dies, announced members), plus the parser on hand-made bytes.
@Suite(.serialized) struct NATSClientTests {
    private static let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)

    /// Collects what a subscription receives, from the client's loop, for the test to read.
    final class Inbox: @unchecked Sendable {
        private let lock = NSLock()
        private var items: [NATSMessage] = []
        func add(_ message: NATSMessage) { lock.withLock { items.append(message) } }
        var messages: [NATSMessage] { lock.withLock { items } }
        var texts: [String] { messages.map { String(buffer: $0.payload) } }

        /// Waits until `count` messages arrived; a timeout is a failure of the test, not a return.
        func wait(for count: Int, timeout: Double = 5, sourceLocation: SourceLocation = #_sourceLocation) async throws {
            let deadline = Date().addingTimeInterval(timeout)
            while messages.count < count, Date() < deadline { try await Task.sleep(for: .milliseconds(10)) }
            if messages.count < count {
                Issue.record(
                    "\(messages.count) of \(count) messages after \(timeout) s", sourceLocation: sourceLocation)
            }
        }

        /// Waits until a message with payload `text` arrived; a timeout is a failure of the test.
        func wait(forText text: String, timeout: Double = 5, sourceLocation: SourceLocation = #_sourceLocation)
            async throws
        {
            let deadline = Date().addingTimeInterval(timeout)
            while !texts.contains(text), Date() < deadline { try await Task.sleep(for: .milliseconds(10)) }
            if !texts.contains(text) {
                Issue.record("no \"\(text)\" after \(timeout) s (got \(texts))", sourceLocation: sourceLocation)
            }
        }
    }

    final class Events: @unchecked Sendable {
        private let lock = NSLock()
        private var items: [NATSClient.Event] = []
        func add(_ event: NATSClient.Event) { lock.withLock { items.append(event) } }
        var all: [NATSClient.Event] { lock.withLock { items } }
        var connections: [String] { all.compactMap { if case .connected(let server) = $0 { server } else { nil } } }
    }

    private func client(_ servers: [String], configure: (inout NATSClient.Configuration) -> Void = { _ in }) -> (
        NATSClient, Events
    ) {
        var configuration = NATSClient.Configuration(servers: servers)
        configuration.pingInterval = .milliseconds(200)
        configure(&configuration)
        let client = NATSClient(configuration: configuration, eventLoop: Self.group.next())
        let events = Events()
        client.onEvent = { events.add($0) }
        return (client, events)
    }

    @Test func publishesAndSubscribesWithHeadersWildcardsAndQueueGroups() async throws {
        let server = try NATSServerProcess()
        let (publisher, _) = client([server.url])
        let (subscriber, _) = client([server.url])
        try await publisher.connect().get()
        try await subscriber.connect().get()
        let all = Inbox(), queued = Inbox()
        _ = try await subscriber.subscribe("ticks.*") { all.add($0) }.get()
        _ = try await subscriber.subscribe("ticks.>", queue: "workers") { queued.add($0) }.get()
        try await subscriber.flush().get()

        publisher.publish("ticks.AAPL", payload: ByteBuffer(string: "one"))
        publisher.publish(
            "ticks.MSFT", payload: ByteBuffer(string: "two"), headers: [("Epoch", "e-42"), ("Tick-Seq", "7")])
        publisher.publish("other.AAPL", payload: ByteBuffer(string: "not for us"))
        publisher.publish("ticks.AAPL", payload: ByteBuffer(bytes: [0, 13, 10, 255]))  // binary, CR LF inside
        try await publisher.flush().get()
        try await all.wait(for: 3)
        #expect(all.texts.prefix(2) == ["one", "two"])
        #expect(all.messages.map(\.subject) == ["ticks.AAPL", "ticks.MSFT", "ticks.AAPL"])
        #expect(all.messages[1].header("epoch") == "e-42" && all.messages[1].header("Tick-Seq") == "7")
        #expect(Array(all.messages[2].payload.readableBytesView) == [0, 13, 10, 255])
        try await queued.wait(for: 3)
        #expect(queued.messages.count == 3)

        let stats = try await subscriber.stats().get()
        #expect(stats.messagesIn == 6 && stats.reconnects == 0)
        _ = try await publisher.close().get()
        _ = try await subscriber.close().get()
    }

    @Test func requestsGetTheirAnswerOrNoResponders() async throws {
        let server = try NATSServerProcess()
        let (responder, _) = client([server.url])
        let (requester, _) = client([server.url])
        try await responder.connect().get()
        try await requester.connect().get()
        _ = try await responder.subscribe("snapshot.request") { message in
            responder.publish(
                message.replyTo!, payload: ByteBuffer(string: "state of " + String(buffer: message.payload)))
        }.get()
        try await responder.flush().get()
        let answer = try await requester.request(
            "snapshot.request", payload: ByteBuffer(string: "AAPL"), timeout: .seconds(2)
        ).get()
        #expect(String(buffer: answer.payload) == "state of AAPL")
        await #expect(throws: NATSClientError.noResponders) {
            try await requester.request("nobody.listens", payload: ByteBuffer(), timeout: .seconds(2)).get()
        }
        _ = try await responder.close().get()
        _ = try await requester.close().get()
    }

    @Test func unsubscribedSubjectsStopArriving() async throws {
        let server = try NATSServerProcess()
        let (client, _) = client([server.url])
        try await client.connect().get()
        let inbox = Inbox()
        let sid = try await client.subscribe("a") { inbox.add($0) }.get()
        client.publish("a", payload: ByteBuffer(string: "1"))
        try await inbox.wait(for: 1)
        client.unsubscribe(sid)
        client.publish("a", payload: ByteBuffer(string: "2"))
        try await client.flush().get()
        try await Task.sleep(for: .milliseconds(100))
        #expect(inbox.texts == ["1"])
        await #expect(throws: NATSClientError.invalidSubject("bad subject")) {
            try await client.subscribe("bad subject") { _ in }.get()
        }
        _ = try await client.close().get()
    }

    @Test func aRestartedServerIsReconnectedToAndSubscriptionsComeBack() async throws {
        var server = try NATSServerProcess()
        let port = server.port
        let (subscriber, events) = client([server.url])
        let (publisher, _) = client([server.url])
        try await subscriber.connect().get()
        try await publisher.connect().get()
        let inbox = Inbox()
        _ = try await subscriber.subscribe("ticks.AAPL") { inbox.add($0) }.get()
        try await subscriber.flush().get()
        publisher.publish("ticks.AAPL", payload: ByteBuffer(string: "before"))
        try await inbox.wait(for: 1)

        server.kill()
        // Published while no server is up: held (within the pending limit), sent on reconnect.
        publisher.publish("ticks.AAPL", payload: ByteBuffer(string: "while down"))
        server = try NATSServerProcess(port: port)
        let deadline = Date().addingTimeInterval(10)
        while events.connections.count < 2 || !(publisher.isConnected), Date() < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(events.connections.count == 2)
        try await subscriber.flush().get()
        try await publisher.flush().get()
        publisher.publish("ticks.AAPL", payload: ByteBuffer(string: "after"))
        // Not a count of 3: "while down" may be lost (NATS is at most once). If the publisher had not
        // yet seen the server die, it wrote that message to the dead connection, and the kernel took it.
        try await inbox.wait(forText: "after")
        #expect(Set(inbox.texts) == ["before", "while down", "after"] || inbox.texts == ["before", "after"])
        #expect(inbox.texts.last == "after")
        #expect(events.all.contains { if case .disconnected = $0 { true } else { false } })
        _ = try await subscriber.close().get()
        _ = try await publisher.close().get()
    }

    @Test func whenAClusterMemberDiesTheClientMovesToOneItWasToldAbout() async throws {
        // Three members with routes; the client is given only the first and learns the others from INFO.
        let ports = try (0..<3).map { _ in try NATSServerProcess.freePort() }
        let a = try NATSServerProcess(name: "a", clusterPort: ports[0], routes: [ports[1], ports[2]])
        let b = try NATSServerProcess(name: "b", clusterPort: ports[1], routes: [ports[0], ports[2]])
        let c = try NATSServerProcess(name: "c", clusterPort: ports[2], routes: [ports[0], ports[1]])
        try a.waitForRoutes(2)
        let (subscriber, events) = client([a.url])
        try await subscriber.connect().get()
        let (publisher, _) = client([c.url])
        try await publisher.connect().get()
        let inbox = Inbox()
        _ = try await subscriber.subscribe("ticks.>") { inbox.add($0) }.get()
        try await subscriber.flush().get()
        try await Task.sleep(for: .milliseconds(200))  // the interest travels the routes
        publisher.publish("ticks.AAPL", payload: ByteBuffer(string: "via a"))
        try await inbox.wait(for: 1)
        #expect(inbox.texts == ["via a"])
        #expect((subscriber.serverInfo?.connectURLs.count ?? 0) >= 2, "INFO announced the other members")

        a.kill()
        let deadline = Date().addingTimeInterval(10)
        while events.connections.count < 2, Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
        let second = events.connections.last ?? ""
        #expect(events.connections.count == 2 && second != "127.0.0.1:\(a.port)", "\(events.all)")
        try await subscriber.flush().get()
        try await Task.sleep(for: .milliseconds(200))
        publisher.publish("ticks.MSFT", payload: ByteBuffer(string: "after failover"))
        try await inbox.wait(for: 2)
        #expect(inbox.texts == ["via a", "after failover"])
        _ = try await subscriber.close().get()
        _ = try await publisher.close().get()
        _ = (b, c)
    }

    @Test func aPublisherWithoutAServerHoldsAtMostItsPendingLimit() async throws {
        let (client, _) = client(["nats://127.0.0.1:\(try NATSServerProcess.freePort())"]) { $0.maxPendingBytes = 1000 }
        _ = client.connect()  // nobody listens: it keeps trying
        for _ in 0..<100 { client.publish("x", payload: ByteBuffer(repeating: 0, count: 90)) }
        try await Task.sleep(for: .milliseconds(50))
        let stats = try await client.stats().get()
        #expect(stats.messagesOut == 100 && stats.droppedPublishes >= 90 && stats.reconnects >= 1)
        _ = try await client.close().get()
    }

    @Test func theParserWaitsForWholeOperationsAndRefusesBrokenOnes() throws {
        var buffer = ByteBuffer(
            string:
                """
                INFO\
                 {\"server_id\":\"x\",\"max_payload\":1024,\"headers\":true,\"connect_urls\":[\"10.0.0.2:4222\"]}\r\nPI
                """
        )
        guard case .info(let info) = try NATSOperationDecoder.decode(&buffer) else {
            Issue.record("no INFO")
            return
        }
        #expect(info == NATSServerInfo(serverID: "x", maxPayload: 1024, headers: true, connectURLs: ["10.0.0.2:4222"]))
        let partialLine = try NATSOperationDecoder.decode(&buffer)
        #expect(partialLine == nil)  // "PI": not a whole line yet
        buffer.writeString("NG\r\nMSG a.b 3 reply.to 5\r\nhel")
        guard case .ping = try NATSOperationDecoder.decode(&buffer) else {
            Issue.record("no PING")
            return
        }
        let partialPayload = try NATSOperationDecoder.decode(&buffer)
        #expect(partialPayload == nil)  // the payload is not all here
        buffer.writeString("lo\r\nHMSG h 9 23 25\r\nNATS/1.0\r\nA: 1\r\nB:2\r\n\r\nhi\r\n")
        guard case .message(let message) = try NATSOperationDecoder.decode(&buffer) else {
            Issue.record("no MSG")
            return
        }
        #expect(
            message.subject == "a.b" && message.sid == 3 && message.replyTo == "reply.to"
                && String(buffer: message.payload) == "hello")
        guard case .message(let withHeaders) = try NATSOperationDecoder.decode(&buffer) else {
            Issue.record("no HMSG")
            return
        }
        #expect(
            withHeaders.headers.map(\.name) == ["A", "B"] && withHeaders.header("b") == "2"
                && String(buffer: withHeaders.payload) == "hi")
        var noResponders = ByteBuffer(string: "HMSG _INBOX.1 2 16 16\r\nNATS/1.0 503\r\n\r\n\r\n")
        guard case .message(let status) = try NATSOperationDecoder.decode(&noResponders) else {
            Issue.record("no 503")
            return
        }
        #expect(status.status == 503 && status.payload.readableBytes == 0)
        var error = ByteBuffer(string: "-ERR 'Slow Consumer'\r\n")
        guard case .error(let text) = try NATSOperationDecoder.decode(&error) else {
            Issue.record("no -ERR")
            return
        }
        #expect(text == "Slow Consumer")
        for bad in ["MSG a\r\n", "MSG a b c\r\n", "HMSG a 1 9 3\r\n", "WHAT\r\n", "INFO not json\r\n"] {
            var broken = ByteBuffer(string: bad)
            #expect(throws: NATSProtocolError.self) { try NATSOperationDecoder.decode(&broken) }
        }
        // A message past the server's max_payload is refused from its control line, not buffered
        // while a hostile or broken server sends a terabyte of it.
        var huge = ByteBuffer(string: "MSG a 1 999999999999999999\r\n")
        #expect(throws: NATSProtocolError.payloadTooLarge(999_999_999_999_999_999)) {
            try NATSOperationDecoder.decode(&huge)
        }
        var overMax = ByteBuffer(string: "MSG a 1 2048\r\n")
        #expect(throws: NATSProtocolError.payloadTooLarge(2048)) {
            try NATSOperationDecoder.decode(&overMax, maxPayload: 1024)
        }
        var endless = ByteBuffer(repeating: UInt8(ascii: "x"), count: NATSOperationDecoder.maxControlLine + 1)
        #expect(throws: NATSProtocolError.controlLineTooLong) { try NATSOperationDecoder.decode(&endless) }
        #expect(ServerPool.Address("nats://h:4223")?.description == "h:4223" && ServerPool.Address("h")?.port == 4222)
        #expect(ServerPool.Address("tls://h:1") == nil && ServerPool.Address("h:99999") == nil)
    }
}

extension NATSServerOperation: Equatable {
    public static func == (lhs: NATSServerOperation, rhs: NATSServerOperation) -> Bool {
        switch (lhs, rhs) {
        case (.ping, .ping), (.pong, .pong), (.ok, .ok): true
        case let (.info(a), .info(b)): a == b
        case let (.error(a), .error(b)): a == b
        default: false
        }
    }
}
