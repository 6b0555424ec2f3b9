import NIOCore
import NIOPosix
import Synchronization

/// A small NATS client on SwiftNIO: publish and subscribe with headers, request and reply, pings,
/// and staying connected to a cluster. It speaks the NATS client protocol (docs.nats.io, "Client
/// Protocol") over plain TCP: `CONNECT`, `SUB`, `UNSUB`, `PUB`/`HPUB`, `MSG`/`HMSG`, `PING`/`PONG`,
/// and `INFO` with `connect_urls`.
///
/// Staying connected (`NATSConnectionStateMachine` decides; this class does the I/O): a lost
/// connection is made again after a jittered, growing delay, to the next server of the configured
/// and announced ones, and every subscription with it. Publishes made meanwhile wait within
/// `maxPendingBytes`; past it they are dropped and counted (`Statistics.droppedPublishes`).
///
/// Threading: confined to `eventLoop`. Every public method may be called from any thread; message
/// handlers and `onReadComplete` run on the loop (for the hub: its publisher's loop, so ticks go
/// from the socket to the ring without a thread hop).
public final class NATSClient: @unchecked Sendable {
    // @unchecked: all mutable state is confined to `eventLoop`.

    public let eventLoop: any EventLoop
    public let configuration: Configuration
    /// Told of connections, losses and errors; called on the loop.
    public var onEvent: (@Sendable (Event) -> Void)?
    /// Called on the loop after each socket read's messages were handed out: a consumer that
    /// batches (the hub's NATS feed) publishes its batch here.
    public var onReadComplete: (() -> Void)?

    private var connection: NATSConnectionStateMachine {
        didSet { readyForReaders.store(connection.isReady, ordering: .relaxed) }
    }
    /// Ready (the server answered our first `PING` after `CONNECT`: subscriptions are in place),
    /// for `isConnected` on any thread without a hop to the loop.
    private let readyForReaders = Atomic<Bool>(false)
    private var ready: Bool { connection.isReady }
    /// The socket of the current connection, once made.
    private var channel: (any Channel)?
    /// The subscriptions and the requests waiting for answers.
    private var routing = NATSRouting()
    private var pending = ByteBuffer()
    private var pingTask: RepeatedTask?
    private var waitingForConnection: [EventLoopPromise<Void>] = []
    private var waitingForPong: [EventLoopPromise<Void>] = []
    private(set) public var serverInfo: NATSServerInfo?
    private var statistics = Statistics()
    /// Why the last connection ended, for the `disconnected` event.
    private var lastLossReason = ""

    public init(configuration: Configuration, eventLoop: any EventLoop) {
        precondition(!configuration.servers.isEmpty, "a NATS client needs at least one server")
        self.configuration = configuration
        self.eventLoop = eventLoop
        self.connection = NATSConnectionStateMachine(configuration: configuration)
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
                self.perform(self.connection.start(), on: nil)
            }
            return promise.futureResult
        }
    }

    /// Closes the connection for good.
    public func close() -> EventLoopFuture<Void> {
        eventLoop.flatSubmit {
            let channel = self.channel
            self.perform(self.connection.close(), on: channel)
            return channel?.close() ?? self.eventLoop.makeSucceededVoidFuture()
        }
    }

    public var isConnected: Bool { readyForReaders.load(ordering: .relaxed) }
    public func stats() -> EventLoopFuture<Statistics> { eventLoop.submit { self.statistics } }

    /// Carries out what the state machine decided; `channel` is the connection the event came from.
    private func perform(_ action: NATSConnectionStateMachine.Action, on channel: (any Channel)?) {
        switch action {
        case .none:
            break
        case .connect(let address):
            open(address)
        case .sendHandshake:
            guard let channel else { return }
            var buffer = channel.allocator.buffer(capacity: 512)
            NATSCommand.connect(.init(name: configuration.name, authToken: configuration.token), into: &buffer)
            for (sid, subscription) in routing.inOrder {
                NATSCommand.subscribe(subject: subscription.subject, queue: subscription.queue, sid: sid, into: &buffer)
            }
            NATSCommand.ping(into: &buffer)
            channel.writeAndFlush(buffer, promise: nil)
        case .becomeReady(let server):
            if let channel, pending.readableBytes > 0 { drainPending(channel) }
            onEvent?(.connected(server: server))
            for promise in waitingForConnection { promise.succeed() }
            waitingForConnection.removeAll()
            pingTask = eventLoop.scheduleRepeatedTask(
                initialDelay: configuration.pingInterval, delay: configuration.pingInterval
            ) { [weak self] _ in
                guard let self else { return }
                self.perform(self.connection.pingTimerFired(), on: self.channel)
            }
        case .sendPing:
            sendIfReady { NATSCommand.ping(into: &$0) }
        case .pongArrived:
            if !waitingForPong.isEmpty { waitingForPong.removeFirst().succeed() }
        case .closeConnection(let reason):
            onEvent?(.error(reason))
            channel?.close(promise: nil)
        case .reconnect(let lost, let wasReady, let next, let delay):
            stopConnection()
            if wasReady { onEvent?(.disconnected(server: lost ?? "?", reason: lastLossReason)) }
            statistics.reconnects += 1
            let wait = TimeAmount.nanoseconds(Int64.random(in: delay))
            onEvent?(.reconnecting(server: next.description, after: wait))
            eventLoop.scheduleTask(in: wait) { self.perform(self.connection.reconnectTimerFired(), on: nil) }
        case .shutdown:
            stopConnection()
            failWaiting(NATSClientError.closed)
            onEvent?(.closed)
        }
    }

    private func open(_ server: ServerPool.Address) {
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
                    guard self.connection.server == server.description else {
                        channel.close(promise: nil)  // closed (or given up) meanwhile
                        return
                    }
                    self.channel = channel
                    self.perform(self.connection.socketConnected(), on: channel)
                case .failure(let error):
                    self.lastLossReason = "\(error)"
                    self.perform(self.connection.connectionClosed(), on: nil)
                }
            }
    }

    /// Forgets the socket and what was bound to it: the ping timer, and the flushes awaiting a `PONG`.
    private func stopConnection() {
        channel = nil
        pingTask?.cancel()
        pingTask = nil
        for promise in waitingForPong { promise.fail(NATSClientError.disconnected) }
        waitingForPong.removeAll()
    }

    // MARK: From the connection (on the loop)

    func received(_ operation: NATSServerOperation, on channel: any Channel) {
        switch operation {
        case .info(let info):
            serverInfo = info
            perform(connection.infoReceived(connectURLs: info.connectURLs), on: channel)
        case .ping:
            var buffer = channel.allocator.buffer(capacity: 6)
            NATSCommand.pong(into: &buffer)
            channel.writeAndFlush(buffer, promise: nil)
        case .pong:
            perform(connection.pongReceived(), on: channel)
        case .message(let message):
            statistics.messagesIn += 1
            statistics.bytesIn += UInt64(message.payload.readableBytes)
            routing.deliver(message)
        case .ok:
            break
        case .error(let text):
            onEvent?(.error(text))
        }
    }

    func readComplete() {
        onReadComplete?()
    }

    func channelClosed(_ channel: any Channel, reason: String) {
        // A socket replaced already (or never taken) says nothing about the current connection.
        guard channel === self.channel else { return }
        lastLossReason = reason
        perform(connection.connectionClosed(), on: channel)
    }

    private func failWaiting(_ error: any Error) {
        for promise in waitingForConnection { promise.fail(error) }
        waitingForConnection.removeAll()
        routing.failRequests(error)
    }

    // MARK: Subscribing and publishing

    /// Subscribes to `subject` (wildcards `*` and `>` allowed; with a `queue`, messages are shared
    /// among that queue's members). `handler` runs on the loop for every message; the future gives
    /// the subscription id, for `unsubscribe`. Kept across reconnects.
    public func subscribe(_ subject: String, queue: String? = nil, handler: @escaping Handler) -> EventLoopFuture<
        UInt64
    > {
        eventLoop.submit {
            guard NATSCommand.isValidSubject(subject) else { throw NATSClientError.invalidSubject(subject) }
            return self.addSubscription(subject, queue: queue, handler: handler)
        }
    }

    public func unsubscribe(_ sid: UInt64) {
        eventLoop.execute {
            guard self.routing.remove(sid) else { return }
            self.sendIfReady { NATSCommand.unsubscribe(sid: sid, into: &$0) }
        }
    }

    /// Keeps the subscription (subscribed again on every connection), and subscribes now if ready.
    private func addSubscription(_ subject: String, queue: String?, handler: @escaping Handler) -> UInt64 {
        let sid = routing.add(subject, queue: queue, handler: handler)
        sendIfReady { NATSCommand.subscribe(subject: subject, queue: queue, sid: sid, into: &$0) }
        return sid
    }

    /// Writes a command, if there is a connection in service (else the next handshake covers it).
    private func sendIfReady(_ write: (inout ByteBuffer) -> Void) {
        guard ready, let channel else { return }
        var buffer = channel.allocator.buffer(capacity: 64)
        write(&buffer)
        channel.writeAndFlush(buffer, promise: nil)
    }

    /// Publishes (written at once when connected, else held within `maxPendingBytes`). Call
    /// `flush()` to know the server has it.
    public func publish(
        _ subject: String, payload: ByteBuffer, headers: [(name: String, value: String)] = [], replyTo: String? = nil
    ) {
        publish([NATSOutgoingMessage(subject: subject, payload: payload, headers: headers, replyTo: replyTo)])
    }

    /// Publishes several messages in one write (one system call for a batch of ticks, where a
    /// `publish` each would flush each).
    public func publish(_ messages: [NATSOutgoingMessage]) {
        guard !messages.isEmpty else { return }
        if eventLoop.inEventLoop {
            publishOnLoop(messages)
        } else {
            eventLoop.execute { self.publishOnLoop(messages) }
        }
    }

    private func publishOnLoop(_ messages: [NATSOutgoingMessage]) {
        var buffer = NATSCommand.publish(messages, allocator: channel?.allocator ?? ByteBufferAllocator())
        statistics.messagesOut += UInt64(messages.count)
        for message in messages { statistics.bytesOut += UInt64(message.payload.readableBytes) }
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

    func writabilityChanged(_ channel: any Channel) {
        if ready, channel.isWritable, pending.readableBytes > 0 { drainPending(channel) }
    }

    private func drainPending(_ channel: any Channel) {
        channel.writeAndFlush(pending, promise: nil)
        pending = ByteBuffer()
    }

    /// Completes once the server has processed everything sent before it (a `PING` round trip).
    public func flush() -> EventLoopFuture<Void> {
        eventLoop.flatSubmit {
            let action = self.connection.flushRequested()
            guard action == .sendPing, let channel = self.channel else {
                return self.eventLoop.makeFailedFuture(NATSClientError.disconnected)
            }
            let promise = self.eventLoop.makePromise(of: Void.self)
            self.waitingForPong.append(promise)
            self.perform(action, on: channel)
            return promise.futureResult
        }
    }

    /// Publishes a request and completes with the first answer, or fails after `timeout` (or at
    /// once with `noResponders` when nobody subscribes to `subject`).
    public func request(_ subject: String, payload: ByteBuffer, timeout: TimeAmount) -> EventLoopFuture<NATSMessage> {
        eventLoop.flatSubmit {
            let (inbox, newSubscription) = self.routing.inbox()
            // One wildcard subscription serves every request's answer; `deliver` tells them apart.
            if let newSubscription { _ = self.addSubscription(newSubscription, queue: nil, handler: { _ in }) }
            let replyTo = self.routing.nextReplySubject(inbox: inbox)
            let promise = self.eventLoop.makePromise(of: NATSMessage.self)
            let timer = self.eventLoop.scheduleTask(in: timeout) { self.routing.timedOut(replyTo) }
            self.routing.await(replyTo, answer: promise, timeout: timer)
            self.publishOnLoop([NATSOutgoingMessage(subject: subject, payload: payload, replyTo: replyTo)])
            return promise.futureResult
        }
    }
}
