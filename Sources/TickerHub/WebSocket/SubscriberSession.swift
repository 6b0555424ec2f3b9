import AccessControl
import FanoutEngine
import FeedModel
import Logging
import NIOCore
import NIOWebSocket

/// One `/ws` connection speaking protocol `tickerhub.v1` (docs/PROTOCOL.md), whichever transport
/// carries it (`WebSocketConnection`): it ties a connection to its parts. Market updates do not
/// pass through it at all: the fan-out writes them straight to the connection's `FrameSink`.
///
/// The transport calls in: `start` and `end`, each frame (`received`), the end of a read burst,
/// writability changes, whether it may read (`mayRead`), hub events, and frame errors
/// (`violation`). Everything is confined to the connection's event loop.
///
/// - Requests: parsed here, carried out and answered by `SubscriberRequests`. Bad requests get an
///   `error` message and the connection stays up.
/// - Control frames and closing: `WebSocketControl` and `CloseHandshake`, shared with the ingest and
///   echo sessions. Protocol violations (unmasked frames, invalid UTF-8) close the connection with
///   the RFC 6455 code; the transport's frame reader reports the framing ones.
/// - Keep-alive: `ConnectionLiveness` decides heartbeats, pings and timeouts; `KeepAliveSweep`
///   checks every session of a loop with one timer.
/// - Access (docs/PROTOCOL.md, "Authentication"): the `AccessGrant` its handshake earned decides
///   which symbols it may subscribe to; `auth` requests replace it, and a connection whose token
///   lapses is closed with 4001 "token expired".
/// - Slow clients (docs/PROTOCOL.md, "Slow clients"): `SlowConsumerPolicy` says when the backlog is
///   full (requests are not read meanwhile: their answers could not be conflated away), when it
///   drained (the fan-out then catches the subscriber up), and when to evict (4008 "slow consumer").
final class SubscriberSession: ConnectionSession, KeepAliveSweep.Member {
    // Members without `private` are shared with the extensions (`+Access`, `+Backpressure`, `+Closing`).
    let hub: Hub
    let fanout: LoopFanout
    let writer: any FrameSink
    let subscriber: Subscriber
    /// Checks this session twice a second, with every other session on its loop.
    let keepAlive: KeepAliveSweep
    var keepAliveSlot = -1
    /// The transport. The session holds it, and the transport lets go of the session at `end`.
    let connection: any WebSocketConnection
    /// Between `start` and `end`: callbacks that arrive later (a token check, paced requests) find
    /// nothing to do.
    var isOpen = false
    /// Heartbeats, pings, and when to give up on a silent client.
    var liveness: ConnectionLiveness
    /// What each request does, and its answers: made per request from the hub's settings, not
    /// stored (it would be 72 bytes more per connection, for what requests, which are rare, need).
    var requests: SubscriberRequests { SubscriberRequests(hub: hub, fanout: fanout, subscriber: subscriber) }
    /// The symbol patterns this connection follows (`"EUR/*"`); while there are any, the session
    /// is told of each new symbol (`PatternWatchers`).
    private(set) var patterns: [PatternSubscription] = []
    /// How large a request may be; from the settings, not stored, for the same reason.
    private var limits: ClientMessage.Limits {
        ClientMessage.Limits(
            maxMessageBytes: hub.configuration.maxClientMessageBytes,
            maxSymbolsPerRequest: hub.configuration.maxSymbolsPerConnection)
    }
    /// Pings, the Close handshake, and nothing after our Close: shared with the other sessions.
    var control = WebSocketControl()
    var closeSent: Bool { control.closeSent }
    /// Why the connection is closing, for its log line; nil until we close it or the client does.
    var closeReason: String?
    /// Kept as the address, not its text: a formatted string would be one more heap block per connection.
    private var remote: SocketAddress?
    /// The peer's address for a log line.
    var remoteText: String { remote.map { "\($0)" } ?? "?" }
    private let openedAt = NIODeadline.now()
    /// How many requests the client may still send.
    private var requestRate: TokenBucket
    /// Requests waiting for their turn, a few answered per pass of the loop.
    var pacing = RequestPacing()
    /// Holds reads while the backlog is full or requests wait (and the one read it held).
    var readGate = ReadGate()
    /// The backlog: full or not, requests read or deferred, and when to evict.
    var backlog: SlowConsumerPolicy
    /// What the connection's token allows, and until when (`AccessGrant.open` with auth off).
    var grant: AccessGrant
    /// An `auth` request's token is being checked: one at a time per connection, so a client cannot
    /// pile up verifications (each is a signature check off the loop).
    var checkingToken = false

    /// The close code for a connection whose token lapsed without a refresh.

    init(
        hub: Hub, fanout: LoopFanout, connection: any WebSocketConnection, writer: any FrameSink,
        encoding: MessageEncoding = .plain, options: SubscriberOptions = SubscriberOptions(), grant: AccessGrant = .open
    ) {
        self.connection = connection
        self.grant = grant
        self.liveness = ConnectionLiveness(
            heartbeatInterval: options.heartbeatMilliseconds.map { .milliseconds(Int64($0)) },
            pingInterval: .seconds(Int64(hub.configuration.pingIntervalSeconds)), now: .now())
        self.hub = hub
        self.fanout = fanout
        self.writer = writer
        let subscriber = Subscriber(sink: writer, encoding: encoding)
        self.subscriber = subscriber
        self.backlog = SlowConsumerPolicy(configuration: hub.configuration)
        self.requestRate = TokenBucket(
            perSecond: hub.configuration.maxRequestsPerSecond,
            burst: hub.configuration.requestBurst, now: .now())
        self.keepAlive = hub.keepAliveSweep(for: fanout.eventLoop)
    }

    // MARK: Lifecycle

    /// The connection is ready: the welcome goes out, and the keep-alive checks begin.
    func start() {
        isOpen = true
        countSharedEncoding(1)
        hub.metrics.subscribersConnected.wrappingIncrement(ordering: .relaxed)
        hub.metrics.subscribersAccepted.wrappingIncrement(ordering: .relaxed)
        remote = connection.remoteAddress
        hub.logger.info(
            "subscriber connected",
            metadata: [
                "remote": "\(remoteText)", "encoding": "\(subscriber.encoding.name)",
                "subject": "\(grant.subject ?? "-")",
            ])
        let configuration = hub.configuration
        send(
            .welcome(
                .init(
                    heartbeatMs: Int((liveness.heartbeatInterval?.nanoseconds ?? 0) / 1_000_000),
                    maxSymbols: configuration.maxSymbolsPerConnection,
                    feed: hub.feed.name, serverVersion: TickerHubVersion.current,
                    zstdDictionary: hub.engine.compression.zstdDictionary?.id,
                    tokenExpiresAt: grant.expiresAtMilliseconds, epoch: hub.engine.epoch,
                    history: hub.engine.lastValues.historyDepth)))
        if case .stale = hub.feedStatus.condition { send(.status(hub.feedStatus.condition)) }
        writer.flush()
        keepAlive.add(self)
    }

    /// The connection is gone: the fan-out and the keep-alive checks forget it, and it is logged.
    func end() {
        guard isOpen else { return }
        isOpen = false
        countSharedEncoding(-1)
        if !patterns.isEmpty { hub.patternWatchers.unwatch(ObjectIdentifier(self)) }
        keepAlive.remove(self)
        if backlog.isFull { hub.metrics.backloggedConnections.wrappingDecrement(ordering: .relaxed) }
        fanout.remove(subscriber)
        hub.logger.info(
            "subscriber disconnected",
            metadata: [
                "remote": "\(remoteText)", "reason": "\(closeReason ?? "connection lost")",
                "seconds": "\((NIODeadline.now() - openedAt).nanoseconds / 1_000_000_000)",
                "delivered": "\(subscriber.delivered)", "dropped": "\(subscriber.dropped)",
                "conflated": "\(subscriber.conflated)",
                "throttled": "\(subscriber.throttled)",
            ])
        hub.metrics.subscribersConnected.wrappingDecrement(ordering: .relaxed)
    }

    /// The publisher compresses a shared form of each tick only while some subscriber takes it.
    private func countSharedEncoding(_ change: Int) {
        switch subscriber.encoding {
        case .sharedDeflate: hub.engine.compression.add(sharedDeflate: change)
        case .zstd: hub.engine.compression.add(zstd: change)
        case .plain, .dedicatedDeflate: break
        }
    }

    /// A hub-wide event (`ConnectionRegistry.broadcast`).
    func handle(_ event: any HubEvent) {
        switch event {
        case is HubShutdownEvent:
            close(code: .goingAway, reason: "server shutting down")
        case let change as FeedConditionEvent:
            guard isOpen, !closeSent else { return }
            send(.status(change.condition))
            writer.flush()
        case is FeedRestartedEvent:
            // 1012 (service restart, IANA registry): the client reconnects and re-bases on the new
            // epoch's snapshots; its old seqs say nothing about the new numbering.
            close(.serviceRestart)
        default:
            break
        }
    }

    // MARK: Inbound

    /// One whole frame from the client (continuations merged, payload inflated and unmasked).
    func received(_ frame: WebSocketFrame) {
        liveness.heardFrom(at: .now())
        // Every frame but a Close takes a request token: a ping costs an answer and a flush, so a
        // ping flood is a request flood (closed with 1008 like any other).
        if frame.opcode != .connectionClose, !closeSent, !takeRequestToken() { return }
        switch control.classify(frame) {
        case .message(let frame):
            guard frame.opcode == .text else {
                reject(
                    ProtocolError(code: .unsupportedFrame, message: "binary frames are not accepted; send JSON text"))
                return
            }
            if let now = pacing.arrived(frame.unmaskedData) {
                handleText(now)
            } else {
                scheduleResumeIfNeeded()
            }
        case .ping(let payload):
            // Flushed once per read burst (`readBurstEnded`): a burst of pings is one socket write.
            connection.writeControl(.pong, payload: payload)
        case .pong, .handled:
            break
        case .peerClosed(let reply):
            if closeReason == nil { closeReason = "closed by the client" }
            close(code: reply, reason: "")
        case .violation(let reason):
            violation(code: .protocolError, reason: reason)
        }
    }

    /// The transport read all it had for now.
    func readBurstEnded() {
        pacing.passEnded()
        connection.flush()  // the pongs of this burst
    }

    /// Every message takes a token on arrival (a `TokenBucket`); a client out of them is closed.
    private func takeRequestToken() -> Bool {
        guard !requestRate.take(now: .now()) else { return true }
        hub.metrics.rateLimited.wrappingIncrement(ordering: .relaxed)
        hub.logger.notice(
            "closing a subscriber that sends requests too fast",
            metadata: [
                "remote": "\(remoteText)", "per_second": "\(requestRate.perSecond)",
                "burst": "\(Int(requestRate.burst))",
            ])
        close(code: .policyViolation, reason: "too many requests")
        return false
    }

    private func scheduleResumeIfNeeded() {
        guard pacing.needsResume() else { return }
        let eventLoop = connection.eventLoop
        let loopBound = NIOLoopBound(self, eventLoop: eventLoop)
        eventLoop.scheduleTask(in: RequestPacing.resumeDelay) { loopBound.value.answerWaitingRequests() }
    }

    /// The next batch of waiting requests (`RequestPacing`), then reading again once none waits.
    private func answerWaitingRequests() {
        let batch = pacing.resume()
        guard isOpen, !closeSent else { return }
        for request in batch where !closeSent {
            handleText(request)
        }
        if pacing.hasWaiting {
            scheduleResumeIfNeeded()
        } else {
            readIfHeld()
        }
    }

    private func handleText(_ payload: ByteBuffer) {
        guard String(validating: payload.readableBytesView, as: UTF8.self) != nil else {
            violation(code: .dataInconsistentWithMessage, reason: "text frame is not valid UTF-8")
            return
        }
        switch ClientMessage.parse(payload.readableBytesView, limits: limits) {
        case .failure(let error):
            reject(error)
        case .success(let message):
            handle(message)
        }
        writer.flush()
        evictIfHopeless(now: .now())
    }

    private func handle(_ request: ClientMessage) {
        if case let .auth(id, token) = request {
            refreshToken(token, id: id)
            return
        }
        let watching = !patterns.isEmpty
        switch requests.answer(
            request, entitlement: grant.symbols, patterns: &patterns, backlogBytes: { connection.backlogBytes })
        {
        case .success(let answers):
            for answer in answers {
                if case .error(let error) = answer { reject(error) } else { send(answer) }
            }
        case .failure(let error):
            reject(error)
        }
        if !patterns.isEmpty != watching { watchPatterns(!patterns.isEmpty) }
    }

    // MARK: Outbound

    func send(_ message: ServerMessage) {
        // Updates corked for this connection go first: an answer must not overtake them.
        fanout.releaseCorked(subscriber)
        subscriber.wroteSinceLastCheck = true
        writer.write(
            fanout.encode(WebSocketFrameBuilder.text(message, allocator: connection.allocator), for: subscriber))
    }

    func reject(_ error: ProtocolError) {
        hub.metrics.requestErrors.wrappingIncrement(ordering: .relaxed)
        if error.code == .notEntitled { hub.metrics.entitlementRefusals.wrappingIncrement(ordering: .relaxed) }
        hub.logger.debug(
            "request rejected", metadata: ["code": "\(error.code.rawValue)", "message": "\(error.message)"])
        send(.error(error))
        writer.flush()
    }
}
