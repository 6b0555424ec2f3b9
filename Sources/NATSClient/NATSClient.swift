import NIOCore
import NIOPosix
import Synchronization

/// A small NATS client on SwiftNIO: publish and subscribe with headers, request and reply, pings,
/// and staying connected to a cluster. It speaks the NATS client protocol (docs.nats.io, "Client
/// Protocol") over plain TCP: `CONNECT`, `SUB`, `UNSUB`, `PUB`/`HPUB`, `MSG`/`HMSG`, `PING`/`PONG`,
/// and `INFO` with `connect_urls`.
///
/// Staying connected: when the connection drops (or two pings go unanswered), it connects again
/// after a jittered, growing delay, to the next server of its pool: the configured ones and every
/// member the servers announced in `INFO`. On each connection it subscribes again to everything.
/// Publishes made while disconnected wait in a buffer of at most `maxPendingBytes`; past it they
/// are dropped and counted (`Statistics.droppedPublishes`), so a lost server cannot grow memory.
///
/// Threading: confined to `eventLoop`. Every public method may be called from any thread; message
/// handlers and `onReadComplete` run on the loop (for the hub: its publisher's loop, so ticks go
/// from the socket to the ring without a thread hop).
public final class NATSClient: @unchecked Sendable {
    // @unchecked: all mutable state is confined to `eventLoop`.

    public struct Configuration: Sendable {
        /// `nats://host:port` (or `host:port`); at least one.
        public var servers: [String]
        /// The connection's name in the server's monitoring.
        public var name = "tickerhub"
        /// How often an idle connection is pinged; after `maxPingsOutstanding` unanswered, it is
        /// taken for dead and replaced.
        public var pingInterval = TimeAmount.seconds(2)
        public var maxPingsOutstanding = 2
        /// The first reconnect delay, doubled each failed attempt up to `maxReconnectWait`; each
        /// wait is drawn at random from its upper half.
        public var reconnectWait = TimeAmount.milliseconds(50)
        public var maxReconnectWait = TimeAmount.seconds(2)
        public var connectTimeout = TimeAmount.seconds(2)
        /// Most bytes of publishes held while disconnected (or while the socket is full).
        public var maxPendingBytes = 8 << 20
        public var token: String?

        public init(servers: [String], name: String = "tickerhub", token: String? = nil) {
            self.servers = servers
            self.name = name
            self.token = token
        }
    }

    public enum Event: Sendable, Equatable {
        case connected(server: String)
        case disconnected(server: String, reason: String)
        case reconnecting(server: String, after: TimeAmount)
        /// An `-ERR` from the server (a slow-consumer warning among them), or our own protocol trouble.
        case error(String)
        case closed
    }

    public struct Statistics: Sendable, Equatable {
        public var messagesIn: UInt64 = 0
        public var bytesIn: UInt64 = 0
        public var messagesOut: UInt64 = 0
        public var bytesOut: UInt64 = 0
        public var reconnects: UInt64 = 0
        /// Publishes dropped because `maxPendingBytes` were already waiting.
        public var droppedPublishes: UInt64 = 0
    }

    public typealias Handler = (NATSMessage) -> Void

    private struct Subscription {
        let subject: String
        let queue: String?
        let handler: Handler
    }

    public let eventLoop: any EventLoop
    public let configuration: Configuration
    /// Told of connections, losses and errors; called on the loop.
    public var onEvent: (@Sendable (Event) -> Void)?
    /// Called on the loop after each socket read's messages were handed out: a consumer that
    /// batches (the hub's NATS feed) publishes its batch here.
    public var onReadComplete: (() -> Void)?

    private var pool: ServerPool
    private var channel: (any Channel)?
    private var connectedServer: String?
    /// Set once the server answered our first `PING` after `CONNECT`: subscriptions are in place.
    private var ready = false {
        didSet { readyForReaders.store(ready, ordering: .relaxed) }
    }
    /// `ready`, for `isConnected` on any thread without a hop to the loop.
    private let readyForReaders = Atomic<Bool>(false)
    private var closed = false
    /// `connect()` was called: the client is trying to be connected from then on.
    private var started = false
    private var subscriptions: [UInt64: Subscription] = [:]
    private var nextSID: UInt64 = 1
    private var pending = ByteBuffer()
    private var pingsOutstanding = 0
    private var pingTask: RepeatedTask?
    private var failedAttempts = 0
    private var waitingForConnection: [EventLoopPromise<Void>] = []
    private var waitingForPong: [EventLoopPromise<Void>] = []
    private var inboxPrefix: String?
    private var requests: [String: (EventLoopPromise<NATSMessage>, Scheduled<Void>)] = [:]
    private var nextRequest: UInt64 = 0
    private(set) public var serverInfo: NATSServerInfo?
    private var statistics = Statistics()

    public init(configuration: Configuration, eventLoop: any EventLoop) {
        precondition(!configuration.servers.isEmpty, "a NATS client needs at least one server")
        self.configuration = configuration
        self.eventLoop = eventLoop
        self.pool = ServerPool(configured: configuration.servers)
    }

    // MARK: Connecting

    /// Starts connecting (and staying connected); the future completes at the first connection.
    public func connect() -> EventLoopFuture<Void> {
        eventLoop.flatSubmit {
            let promise = self.eventLoop.makePromise(of: Void.self)
            if self.ready {
                promise.succeed()
            } else {
                self.waitingForConnection.append(promise)
                if !self.started {
                    self.started = true
                    self.attempt()
                }
            }
            return promise.futureResult
        }
    }

    /// Closes the connection for good.
    public func close() -> EventLoopFuture<Void> {
        eventLoop.flatSubmit {
            self.closed = true
            self.pingTask?.cancel()
            self.failWaiting(NATSClientError.closed)
            self.onEvent?(.closed)
            return self.channel?.close() ?? self.eventLoop.makeSucceededVoidFuture()
        }
    }

    public var isConnected: Bool { readyForReaders.load(ordering: .relaxed) }

    /// Whether `text` names a server this client can connect to: `nats://host:port`, `host:port` or `host`.
    public static func isValidServerURL(_ text: String) -> Bool { ServerPool.isValid(text) }

    public func stats() -> EventLoopFuture<Statistics> { eventLoop.submit { self.statistics } }

    private func attempt() {
        guard !closed else { return }
        let server = pool.next()
        ClientBootstrap(group: eventLoop)
            .connectTimeout(configuration.connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(NATSOperationDecoder()))
                    try channel.pipeline.syncOperations.addHandler(NATSConnectionHandler(client: self))
                }
            }
            .connect(host: server.host, port: server.port)
            .whenComplete { result in
                switch result {
                case .success(let channel):
                    self.channel = channel
                    self.connectedServer = server.description
                case .failure(let error):
                    self.connectionLost(server: server.description, reason: "\(error)")
                }
            }
    }

    private func connectionLost(server: String, reason: String) {
        let wasReady = ready
        ready = false
        channel = nil
        connectedServer = nil
        pingTask?.cancel()
        pingTask = nil
        pingsOutstanding = 0
        for promise in waitingForPong { promise.fail(NATSClientError.disconnected) }
        waitingForPong.removeAll()
        guard !closed else { return }
        if wasReady { onEvent?(.disconnected(server: server, reason: reason)) }
        failedAttempts += 1
        statistics.reconnects += 1
        let delay = reconnectDelay()
        onEvent?(.reconnecting(server: pool.peek().description, after: delay))
        eventLoop.scheduleTask(in: delay) { self.attempt() }
    }

    /// Exponential (from `reconnectWait`, doubling per failed attempt, capped), from its upper
    /// half at random: after a server dies, its clients do not all come back at once. The first
    /// retry after a working connection is immediate-ish, since another member is likely up.
    private func reconnectDelay() -> TimeAmount {
        let exponent = min(failedAttempts - 1, 16)
        let ceiling = min(configuration.maxReconnectWait.nanoseconds, configuration.reconnectWait.nanoseconds << exponent)
        return .nanoseconds(ceiling / 2 + Int64.random(in: 0...max(1, ceiling / 2)))
    }

    // MARK: From the connection (on the loop)

    fileprivate func received(_ operation: NATSServerOperation, on channel: any Channel) {
        switch operation {
        case .info(let info):
            serverInfo = info
            pool.learn(info.connectURLs)
            if !ready && pingsOutstanding == 0 { handshake(on: channel) }
        case .ping:
            var buffer = channel.allocator.buffer(capacity: 6)
            NATSCommand.pong(into: &buffer)
            channel.writeAndFlush(buffer, promise: nil)
        case .pong:
            pingsOutstanding = max(0, pingsOutstanding - 1)
            if !ready {
                becameReady(on: channel)
            } else if !waitingForPong.isEmpty {
                waitingForPong.removeFirst().succeed()
            }
        case .message(let message):
            statistics.messagesIn += 1
            statistics.bytesIn += UInt64(message.payload.readableBytes)
            if !requests.isEmpty, let request = requests.removeValue(forKey: message.subject) {
                request.1.cancel()
                if message.status == 503 { request.0.fail(NATSClientError.noResponders) } else { request.0.succeed(message) }
            } else {
                subscriptions[message.sid]?.handler(message)
            }
        case .ok:
            break
        case .error(let text):
            onEvent?(.error(text))
        }
    }

    fileprivate func readComplete() {
        onReadComplete?()
    }

    fileprivate func channelClosed(_ channel: any Channel, reason: String) {
        guard channel === self.channel || self.channel == nil else { return }
        connectionLost(server: connectedServer ?? "?", reason: reason)
    }

    /// `CONNECT`, every subscription again, then a `PING` whose `PONG` says all were taken.
    private func handshake(on channel: any Channel) {
        var buffer = channel.allocator.buffer(capacity: 512)
        NATSCommand.connect(.init(name: configuration.name, auth_token: configuration.token), into: &buffer)
        for (sid, subscription) in subscriptions.sorted(by: { $0.key < $1.key }) {
            NATSCommand.subscribe(subject: subscription.subject, queue: subscription.queue, sid: sid, into: &buffer)
        }
        NATSCommand.ping(into: &buffer)
        pingsOutstanding = 1
        channel.writeAndFlush(buffer, promise: nil)
    }

    private func becameReady(on channel: any Channel) {
        ready = true
        failedAttempts = 0
        if pending.readableBytes > 0 {
            channel.writeAndFlush(pending, promise: nil)
            pending = ByteBuffer()
        }
        onEvent?(.connected(server: connectedServer ?? "?"))
        for promise in waitingForConnection { promise.succeed() }
        waitingForConnection.removeAll()
        pingTask = eventLoop.scheduleRepeatedTask(initialDelay: configuration.pingInterval, delay: configuration.pingInterval) { [weak self] _ in
            self?.keepAlive()
        }
    }

    private func keepAlive() {
        guard let channel, ready else { return }
        guard pingsOutstanding < configuration.maxPingsOutstanding else {
            onEvent?(.error("no PONG to \(pingsOutstanding) pings: replacing the connection"))
            channel.close(promise: nil)
            return
        }
        pingsOutstanding += 1
        var buffer = channel.allocator.buffer(capacity: 6)
        NATSCommand.ping(into: &buffer)
        channel.writeAndFlush(buffer, promise: nil)
    }

    private func failWaiting(_ error: any Error) {
        for promise in waitingForConnection { promise.fail(error) }
        waitingForConnection.removeAll()
        for (promise, timeout) in requests.values {
            timeout.cancel()
            promise.fail(error)
        }
        requests.removeAll()
    }

    // MARK: Subscribing and publishing

    /// Subscribes to `subject` (wildcards `*` and `>` allowed; with a `queue`, messages are shared
    /// among that queue's members). `handler` runs on the loop for every message; the future gives
    /// the subscription id, for `unsubscribe`. Kept across reconnects.
    public func subscribe(_ subject: String, queue: String? = nil, handler: @escaping Handler) -> EventLoopFuture<UInt64> {
        let box = UnsafeTransfer(handler)
        return eventLoop.submit {
            guard NATSCommand.isValidSubject(subject) else { throw NATSClientError.invalidSubject(subject) }
            let sid = self.nextSID
            self.nextSID += 1
            self.subscriptions[sid] = Subscription(subject: subject, queue: queue, handler: box.value)
            if self.ready, let channel = self.channel {
                var buffer = channel.allocator.buffer(capacity: 64)
                NATSCommand.subscribe(subject: subject, queue: queue, sid: sid, into: &buffer)
                channel.writeAndFlush(buffer, promise: nil)
            }
            return sid
        }
    }

    public func unsubscribe(_ sid: UInt64) {
        eventLoop.execute {
            guard self.subscriptions.removeValue(forKey: sid) != nil, self.ready, let channel = self.channel else { return }
            var buffer = channel.allocator.buffer(capacity: 32)
            NATSCommand.unsubscribe(sid: sid, into: &buffer)
            channel.writeAndFlush(buffer, promise: nil)
        }
    }

    /// Publishes (written at once when connected, else held within `maxPendingBytes`). Call
    /// `flush()` to know the server has it.
    public func publish(_ subject: String, payload: ByteBuffer, headers: [(name: String, value: String)] = [], replyTo: String? = nil) {
        let headers = UnsafeTransfer(headers)
        if eventLoop.inEventLoop {
            publishOnLoop(subject, payload: payload, headers: headers.value, replyTo: replyTo)
        } else {
            eventLoop.execute { self.publishOnLoop(subject, payload: payload, headers: headers.value, replyTo: replyTo) }
        }
    }

    /// Publishes several messages in one write (one system call for a batch of ticks, where a
    /// `publish` each would flush each).
    public func publish(_ messages: [NATSOutgoingMessage]) {
        guard !messages.isEmpty else { return }
        if eventLoop.inEventLoop {
            publishOnLoop(messages)
        } else {
            let messages = UnsafeTransfer(messages)
            eventLoop.execute { self.publishOnLoop(messages.value) }
        }
    }

    private func publishOnLoop(_ subject: String, payload: ByteBuffer, headers: [(name: String, value: String)], replyTo: String?) {
        publishOnLoop([NATSOutgoingMessage(subject: subject, payload: payload, headers: headers, replyTo: replyTo)])
    }

    private func publishOnLoop(_ messages: [NATSOutgoingMessage]) {
        var size = 0
        for message in messages { size += message.payload.readableBytes + message.subject.utf8.count + 48 }
        var buffer = (channel?.allocator ?? ByteBufferAllocator()).buffer(capacity: size)
        for message in messages {
            statistics.messagesOut += 1
            statistics.bytesOut += UInt64(message.payload.readableBytes)
            NATSCommand.publish(subject: message.subject, replyTo: message.replyTo, headers: message.headers,
                                payload: message.payload, into: &buffer)
        }
        if ready, let channel, channel.isWritable, pending.readableBytes == 0 {
            channel.writeAndFlush(buffer, promise: nil)
            return
        }
        guard pending.readableBytes + buffer.readableBytes <= configuration.maxPendingBytes else {
            statistics.droppedPublishes += UInt64(messages.count)
            return
        }
        pending.writeBuffer(&buffer)
        if ready, let channel, channel.isWritable { drainPending(channel) }
    }

    fileprivate func writabilityChanged(_ channel: any Channel) {
        if ready, channel.isWritable, pending.readableBytes > 0 { drainPending(channel) }
    }

    private func drainPending(_ channel: any Channel) {
        channel.writeAndFlush(pending, promise: nil)
        pending = ByteBuffer()
    }

    /// Completes once the server has processed everything sent before it (a `PING` round trip).
    public func flush() -> EventLoopFuture<Void> {
        eventLoop.flatSubmit {
            guard self.ready, let channel = self.channel else { return self.eventLoop.makeFailedFuture(NATSClientError.disconnected) }
            let promise = self.eventLoop.makePromise(of: Void.self)
            self.waitingForPong.append(promise)
            self.pingsOutstanding += 1
            var buffer = channel.allocator.buffer(capacity: 6)
            NATSCommand.ping(into: &buffer)
            channel.writeAndFlush(buffer, promise: nil)
            return promise.futureResult
        }
    }

    /// Publishes a request and completes with the first answer, or fails after `timeout` (or at
    /// once with `noResponders` when nobody subscribes to `subject`).
    public func request(_ subject: String, payload: ByteBuffer, timeout: TimeAmount) -> EventLoopFuture<NATSMessage> {
        eventLoop.flatSubmit {
            let inbox = self.requestInbox()
            self.nextRequest += 1
            let replyTo = "\(inbox).\(self.nextRequest)"
            let promise = self.eventLoop.makePromise(of: NATSMessage.self)
            let timer = self.eventLoop.scheduleTask(in: timeout) { () -> Void in
                if let (promise, _) = self.requests.removeValue(forKey: replyTo) { promise.fail(NATSClientError.timedOut) }
            }
            self.requests[replyTo] = (promise, timer)
            self.publishOnLoop(subject, payload: payload, headers: [], replyTo: replyTo)
            return promise.futureResult
        }
    }

    /// One wildcard subscription serves every request's answer.
    private func requestInbox() -> String {
        if let inboxPrefix { return inboxPrefix }
        let prefix = "_INBOX.\(UInt64.random(in: 0...UInt64.max))"
        inboxPrefix = prefix
        let sid = nextSID
        nextSID += 1
        subscriptions[sid] = Subscription(subject: prefix + ".*", queue: nil, handler: { _ in })
        if ready, let channel {
            var buffer = channel.allocator.buffer(capacity: 64)
            NATSCommand.subscribe(subject: prefix + ".*", queue: nil, sid: sid, into: &buffer)
            channel.writeAndFlush(buffer, promise: nil)
        }
        return prefix
    }
}

public enum NATSClientError: Error, Equatable {
    case closed
    case disconnected
    case timedOut
    case noResponders
    case invalidSubject(String)
}

/// Hands a non-Sendable value to the client's loop, where it is used alone.
private struct UnsafeTransfer<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}

/// The connection's pipeline end: hands each operation and each read's end to the client.
private final class NATSConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = NATSServerOperation

    private let client: NATSClient

    init(client: NATSClient) {
        self.client = client
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        client.received(unwrapInboundIn(data), on: context.channel)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        client.readComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        client.writabilityChanged(context.channel)
    }

    func channelInactive(context: ChannelHandlerContext) {
        client.channelClosed(context.channel, reason: "connection closed")
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        client.onEvent?(.error("\(error)"))
        context.close(promise: nil)
    }
}
