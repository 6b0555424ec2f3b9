import FanoutEngine
import FeedModel
import Logging
import NIOCore
import NIOWebSocket

/// One `/ws` connection speaking protocol `tickerhub.v1` (docs/PROTOCOL.md).
///
/// It turns requests into subscription changes on its loop's `LoopFanout`, answers them, and keeps
/// the connection alive: a `heartbeat` when no message went out for the interval the client chose
/// (`SubscriberOptions`), a WebSocket ping when nothing came in, and a close when pings go unanswered. Market updates do not pass through this
/// handler at all: the fan-out writes them straight to `RawFrameWriter`.
///
/// Bad requests get an `error` message and the connection stays up. Protocol violations (unmasked
/// frames, invalid UTF-8) close it with the RFC 6455 code; NIO's decoder handles the framing ones.
///
/// Slow clients (docs/PROTOCOL.md, "Slow clients"): while the connection's backlog is full, this
/// handler stops reading requests (their answers could not be conflated away), and when the
/// backlog drains it has the fan-out send the latest value of every symbol that went stale. A
/// backlog that stays full for `slowClientTimeoutSeconds`, or that requests push past the hard
/// limit, gets the connection closed with 4008 "slow consumer" (`SlowConsumerPolicy`).
final class SubscriberSession: ChannelDuplexHandler, KeepAliveSweep.Member {
    typealias InboundIn = WebSocketFrame
    typealias OutboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private let hub: Hub
    private let fanout: LoopFanout
    private let writer: RawFrameWriter
    private let subscriber: Subscriber
    private let limits: ClientMessage.Limits
    /// Checks this session twice a second, with every other session on its loop.
    private let keepAlive: KeepAliveSweep
    var keepAliveSlot = -1
    /// Set while the handler is in a pipeline; the keep-alive checks write through it.
    private var context: ChannelHandlerContext?
    /// Silence after which a `heartbeat` goes out; nil for none (the client's choice, or the default).
    private let heartbeatInterval: TimeAmount?
    /// When a keep-alive check last saw something written (or wrote a heartbeat).
    private var lastOutbound = NIODeadline.now()
    private var lastInbound = NIODeadline.now()
    private var pingSentAt: NIODeadline?
    /// Pings, the Close handshake, and nothing after our Close: shared with the other sessions.
    private var control = WebSocketControl()
    private var closeSent: Bool { control.closeSent }
    /// Why the connection is closing, for its log line; nil until we close it or the client does.
    private var closeReason: String?
    /// Kept as the address, not its text: a formatted string would be one more heap block per connection.
    private var remote: SocketAddress?
    private let openedAt = NIODeadline.now()
    /// The backlog: full or not, requests read or deferred, and when to evict.
    private var backlog: SlowConsumerPolicy

    init(hub: Hub, fanout: LoopFanout, writer: RawFrameWriter, encoding: MessageEncoding = .plain,
         options: SubscriberOptions = SubscriberOptions()) {
        self.heartbeatInterval = options.heartbeatMilliseconds.map { .milliseconds(Int64($0)) }
        self.hub = hub
        self.fanout = fanout
        self.writer = writer
        self.subscriber = Subscriber(sink: writer, encoding: encoding)
        self.limits = ClientMessage.Limits(maxMessageBytes: hub.configuration.maxClientMessageBytes,
                                           maxSymbolsPerRequest: hub.configuration.maxSymbolsPerConnection)
        self.backlog = SlowConsumerPolicy(configuration: hub.configuration)
        self.keepAlive = hub.keepAliveSweep(for: fanout.eventLoop)
    }

    // MARK: Lifecycle

    func handlerAdded(context: ChannelHandlerContext) {
        switch subscriber.encoding {
        case .sharedDeflate: hub.engine.compression.add(sharedDeflate: 1)
        case .zstd: hub.engine.compression.add(zstd: 1)
        case .plain, .dedicatedDeflate: break
        }
        hub.metrics.subscribersConnected.wrappingIncrement(ordering: .relaxed)
        hub.metrics.subscribersAccepted.wrappingIncrement(ordering: .relaxed)
        hub.connections.add(context.channel)
        remote = context.remoteAddress
        hub.logger.info("subscriber connected", metadata: ["remote": "\(remote.map { "\($0)" } ?? "?")", "encoding": "\(subscriber.encoding.name)"])
        let configuration = hub.configuration
        send(.welcome(.init(heartbeatMs: Int((heartbeatInterval?.nanoseconds ?? 0) / 1_000_000), maxSymbols: configuration.maxSymbolsPerConnection,
                            feed: configuration.feed.rawValue, serverVersion: TickerHubVersion.current,
                            zstdDictionary: hub.engine.compression.zstdDictionary?.id)), context: context)
        writer.flush()
        self.context = context
        keepAlive.add(self)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        switch subscriber.encoding {
        case .sharedDeflate: hub.engine.compression.add(sharedDeflate: -1)
        case .zstd: hub.engine.compression.add(zstd: -1)
        case .plain, .dedicatedDeflate: break
        }
        keepAlive.remove(self)
        self.context = nil
        if backlog.isFull { hub.metrics.backloggedConnections.wrappingDecrement(ordering: .relaxed) }
        fanout.remove(subscriber)
        hub.connections.remove(context.channel)
        hub.logger.info("subscriber disconnected", metadata: [
            "remote": "\(remote.map { "\($0)" } ?? "?")", "reason": "\(closeReason ?? "connection lost")",
            "seconds": "\((NIODeadline.now() - openedAt).nanoseconds / 1_000_000_000)",
            "delivered": "\(subscriber.delivered)", "dropped": "\(subscriber.dropped)", "conflated": "\(subscriber.conflated)",
            "throttled": "\(subscriber.throttled)",
        ])
        hub.metrics.subscribersConnected.wrappingDecrement(ordering: .relaxed)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is HubShutdownEvent {
            close(context: context, code: .goingAway, reason: "server shutting down")
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let code = CloseHandshake.closeCode(for: error) {
            violation(context: context, code: code, reason: "\(error)")
        } else {
            hub.logger.debug("subscriber connection error", metadata: ["error": "\(error)"])
            context.close(promise: nil)
        }
    }

    // MARK: Backpressure

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        // Judge by the state now, not by which way the event says it went: NIO reports changes
        // after the fact, and a quick full-then-drained can arrive as a single event, or none.
        let isWritable = context.channel.isWritable
        switch backlog.writability(isWritable, now: .now()) {
        case .filled:
            hub.metrics.backloggedConnections.wrappingIncrement(ordering: .relaxed)
        case .drained(let readWasDeferred):
            hub.metrics.backloggedConnections.wrappingDecrement(ordering: .relaxed)
            // The client read what we queued: as good a sign of life as a pong.
            lastInbound = .now()
            pingSentAt = nil
            if subscriber.staleCount > 0 { fanout.catchUp(subscriber) }
            if readWasDeferred { context.read() }
        case .none:
            if isWritable, subscriber.staleCount > 0 { fanout.catchUp(subscriber) }
        }
        context.fireChannelWritabilityChanged()
    }

    func read(context: ChannelHandlerContext) {
        if backlog.mayRead(closing: closeSent) { context.read() }
    }

    /// Bytes queued in the hub for this connection (NIO's outbound buffer).
    private func backlogBytes(context: ChannelHandlerContext) -> Int {
        (try? context.channel.syncOptions?.getOption(.bufferedWritableBytes)) ?? 0
    }

    private func evictIfHopeless(context: ChannelHandlerContext, now: NIODeadline) {
        guard !closeSent, backlog.isFull else { return }
        let bytes = backlogBytes(context: context)
        guard let rule = backlog.evictionRule(now: now, backlogBytes: bytes) else { return }
        hub.metrics.slowConsumerEvictions.wrappingIncrement(ordering: .relaxed)
        hub.logger.notice("evicting slow consumer", metadata: [
            "remote": "\(context.remoteAddress.map { "\($0)" } ?? "?")", "rule": "\(rule)",
            "backlog_bytes": "\(bytes)", "stale_symbols": "\(subscriber.staleCount)",
            "dropped": "\(subscriber.dropped)",
        ])
        // The close frame queues behind the backlog; a client that reads again soon still gets it.
        close(context: context, code: SlowConsumerPolicy.closeCode, reason: SlowConsumerPolicy.closeReason,
              grace: backlog.closeGrace)
    }

    // MARK: Inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        lastInbound = .now()
        pingSentAt = nil
        switch control.receive(unwrapInboundIn(data), context: context) {
        case .message(let frame) where frame.opcode == .text:
            handleText(frame.unmaskedData, context: context)
        case .message:
            reject(ProtocolError(code: .unsupportedFrame, message: "binary frames are not accepted; send JSON text"), context: context)
        case .pong, .handled:
            break
        case .peerClosed(let reply):
            if closeReason == nil { closeReason = "closed by the client" }
            close(context: context, code: reply, reason: "")
        case .violation(let reason):
            violation(context: context, code: .protocolError, reason: reason)
        }
    }

    private func handleText(_ payload: ByteBuffer, context: ChannelHandlerContext) {
        guard String(validating: payload.readableBytesView, as: UTF8.self) != nil else {
            violation(context: context, code: .dataInconsistentWithMessage, reason: "text frame is not valid UTF-8")
            return
        }
        switch ClientMessage.parse(payload.readableBytesView, limits: limits) {
        case .failure(let error):
            reject(error, context: context)
        case .success(let message):
            handle(message, context: context)
        }
        writer.flush()
        evictIfHopeless(context: context, now: .now())
    }

    private func handle(_ message: ClientMessage, context: ChannelHandlerContext) {
        switch message {
        case let .subscribe(id, names, interval):
            subscribe(id: id, names: names, updateInterval: interval, context: context)
        case let .unsubscribe(id, names):
            unsubscribe(id: id, names: names, context: context)
        case let .list(id, after):
            list(id: id, after: after, context: context)
        case .ping(let id):
            send(.pong(id: id, timestamp: .now()), context: context)
        case .stats(let id):
            send(.stats(id: id, counters: [
                ("delivered", subscriber.delivered), ("dropped", subscriber.dropped), ("throttled", subscriber.throttled),
                ("conflated", subscriber.conflated),
                ("stale", UInt64(subscriber.staleCount)), ("subscriptions", UInt64(subscriber.subscriptionCount)),
                ("backlog_bytes", UInt64(backlogBytes(context: context))),
            ]), context: context)
        }
    }

    private func subscribe(id: Int64?, names: [String], updateInterval: UpdateInterval?, context: ChannelHandlerContext) {
        let requested = uniqued(names)
        let resolved = hub.engine.directory.resolve(requested)
        guard resolved.unknown.isEmpty else {
            reject(.unknownSymbols(resolved.unknown, id: id), context: context)
            return
        }
        let ids = resolved.known.map(\.1)
        let added = ids.filter { !subscriber.isSubscribed(to: $0) }.count
        let limit = hub.configuration.maxSymbolsPerConnection
        guard subscriber.subscriptionCount + added <= limit else {
            reject(ProtocolError(id: id, code: .tooManySymbols,
                                 message: "\(subscriber.subscriptionCount + added) subscriptions would exceed the limit of \(limit) per connection"),
                   context: context)
            return
        }
        let symbols = resolved.known.map { Symbol($0.0)! }
        // Subscribe, then answer: ack first, then one snapshot per new symbol; updates follow from the
        // next drain, which runs on this same loop after us, so nothing can overtake the snapshot.
        let snapshots = fanout.subscribe(subscriber, to: ids, symbols: symbols, updateInterval: updateInterval)
        send(.ack(id: id, op: "subscribe", symbols: symbols.map(\.name), updateInterval: updateInterval), context: context)
        for snapshot in snapshots {
            send(.snapshot(snapshot), context: context)
        }
    }

    /// One page of symbols. Paged so that an answer stays far below the backlog limits whatever an
    /// ingest feed registered: 100,000 names in one message would be over a megabyte, and a client
    /// that asked politely would be evicted as a slow consumer.
    private func list(id: Int64?, after: String?, context: ChannelHandlerContext) {
        var start: SymbolID?
        if let after {
            guard let known = hub.engine.directory.id(of: after) else {
                reject(.unknownSymbols([after], id: id), context: context)
                return
            }
            start = known
        }
        let page = hub.engine.directory.page(after: start, limit: hub.configuration.listPageSize)
        let names = page.symbols.map(\.name)
        send(.symbols(id: id, symbols: names, next: page.more ? names.last : nil), context: context)
    }

    private func unsubscribe(id: Int64?, names: [String], context: ChannelHandlerContext) {
        let resolved = hub.engine.directory.resolve(uniqued(names))
        guard resolved.unknown.isEmpty else {
            reject(.unknownSymbols(resolved.unknown, id: id), context: context)
            return
        }
        fanout.unsubscribe(subscriber, from: resolved.known.map(\.1))
        send(.ack(id: id, op: "unsubscribe", symbols: resolved.known.map(\.0)), context: context)
    }

    // MARK: Outbound

    private func send(_ message: ServerMessage, context: ChannelHandlerContext) {
        // Updates corked for this connection go first: an answer must not overtake them.
        fanout.releaseCorked(subscriber)
        subscriber.wroteSinceLastCheck = true
        writer.write(fanout.encode(WebSocketFrameBuilder.text(message, allocator: context.channel.allocator), for: subscriber))
    }

    private func reject(_ error: ProtocolError, context: ChannelHandlerContext) {
        hub.metrics.requestErrors.wrappingIncrement(ordering: .relaxed)
        hub.logger.debug("request rejected", metadata: ["code": "\(error.code.rawValue)", "message": "\(error.message)"])
        send(.error(error), context: context)
        writer.flush()
    }

    // MARK: Keep-alive

    /// Twice a second (`KeepAliveSweep`): heartbeat when idle for the chosen interval, ping when
    /// silent, close when a ping goes unanswered or the backlog is hopeless.
    func checkLiveness(now: NIODeadline) {
        guard let context, !closeSent else { return }
        evictIfHopeless(context: context, now: now)
        guard !closeSent else { return }
        if subscriber.wroteSinceLastCheck || backlog.isFull {
            // A full backlog is not idle: the client has plenty unread, and a heartbeat would only queue.
            subscriber.wroteSinceLastCheck = false
            lastOutbound = now
        } else if let heartbeatInterval, now - lastOutbound >= heartbeatInterval {
            send(.heartbeat(timestamp: .now()), context: context)
            writer.flush()
            subscriber.wroteSinceLastCheck = false
            lastOutbound = now
        }
        // A full backlog is judged by the slow-consumer rule instead: our ping would sit behind it,
        // and a client that drains it has shown it is alive (see channelWritabilityChanged).
        guard !backlog.isFull else { return }
        let pingInterval = TimeAmount.seconds(Int64(hub.configuration.pingIntervalSeconds))
        if let pingSentAt {
            // With bytes still queued here, the client is behind, not gone: the backlog rule judges it.
            if now - pingSentAt > pingInterval, backlogBytes(context: context) == 0 {
                hub.metrics.pingTimeouts.wrappingIncrement(ordering: .relaxed)
                hub.logger.info("closing unresponsive subscriber", metadata: ["remote": "\(context.remoteAddress.map { "\($0)" } ?? "?")"])
                close(context: context, code: .goingAway, reason: "ping timeout")
            }
        } else if now - lastInbound > pingInterval {
            pingSentAt = now
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .ping, data: ByteBuffer(string: "tickerhub"))), promise: nil)
        }
    }

    // MARK: Closing

    private func violation(context: ChannelHandlerContext, code: WebSocketErrorCode, reason: String) {
        hub.metrics.protocolViolations.wrappingIncrement(ordering: .relaxed)
        hub.logger.info("protocol violation", metadata: ["reason": "\(reason)", "remote": "\(context.remoteAddress.map { "\($0)" } ?? "?")"])
        close(context: context, code: code, reason: reason)
    }

    /// Sends a close frame once; see `WebSocketControl`.
    func close(context: ChannelHandlerContext, code: WebSocketErrorCode, reason: String, grace: TimeAmount? = nil) {
        guard control.markCloseSent() else { return }
        if closeReason == nil { closeReason = "\(UInt16(webSocketErrorCode: code)) \(reason)" }
        keepAlive.remove(self)
        // Nothing may follow the Close frame (RFC 6455 §5.5.1): no more fan-out, and what was corked is dropped.
        fanout.remove(subscriber)
        CloseHandshake.send(code: code, reason: reason, context: context, grace: grace ?? hub.configuration.closeGrace)
        // Read (and ignore) what the client still sends; see `SlowConsumerPolicy.mayRead`.
        if backlog.takeDeferredRead() { context.read() }
    }

    private func uniqued(_ names: [String]) -> [String] {
        var seen = Set<String>()
        return names.filter { seen.insert($0).inserted }
    }
}

enum TickerHubVersion {
    static let current = "0.1.0"
}
