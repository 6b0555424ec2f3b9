import AccessControl
import FanoutEngine
import FeedModel
import NIOCore
import NIOWebSocket

/// One `/ingest` publisher connection: binary tick batches (`BinaryTickCodec`) in, sequenced and
/// fanned out by the hub. The publisher's `ts` is kept (0 means "stamp on arrival"), and so is its
/// `seq` when it numbers its updates (0 means "the hub numbers it"): then every hub fed the same
/// batches numbers them alike, a jump is forwarded as a gap, and a repeated seq is dropped.
///
/// Access: the publisher may publish `allowedSymbols` (a token's `publish` claim; everything with
/// the ingest secret). A tick for any other symbol closes the connection with 1008, and so does a
/// token that lapses (4001), as on `/ws`.
///
/// Flow control: while too many batches are waiting for the publisher thread, the connection stops
/// reading, so a fast publisher is slowed by TCP instead of growing the hub's memory.
final class IngestSession: WebSocketSession {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private let hub: Hub
    private var inFlight = 0
    private var paused = false
    private var control = WebSocketControl()
    private let limits: IngestLimits
    /// Who this publisher is, for its new-symbol quota (`PublisherQuotas`): it outlives the connection.
    let identity: String
    private let allowedSymbols: SymbolEntitlement
    /// When the publisher's token lapses (nil: it does not, or there is none).
    private let expiresAt: NIODeadline?
    private var expiry: Scheduled<Void>?

    init(hub: Hub, identity: String, allowedSymbols: SymbolEntitlement = .everything, expiresAt: NIODeadline? = nil) {
        self.identity = identity
        self.hub = hub
        self.limits = hub.configuration.ingest
        self.allowedSymbols = allowedSymbols
        self.expiresAt = expiresAt
    }

    func handlerAdded(context: ChannelHandlerContext) {
        hub.metrics.publishersConnected.wrappingIncrement(ordering: .relaxed)
        hub.connections.add(context.channel)
        hub.logger.info(
            "publisher connected",
            metadata: [
                "remote": "\(context.remoteAddress.map { "\($0)" } ?? "?")",
                "symbols": "\(allowedSymbols)",
            ])
        if let expiresAt {
            let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            expiry = context.eventLoop.scheduleTask(deadline: expiresAt) {
                let (session, context) = loopBound.value
                session.hub.metrics.tokenExpiries.wrappingIncrement(ordering: .relaxed)
                session.close(
                    context: context, code: CloseCode.tokenExpired.webSocketErrorCode,
                    reason: CloseCode.tokenExpired.reason ?? "")
            }
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        expiry?.cancel()
        hub.metrics.publishersConnected.wrappingDecrement(ordering: .relaxed)
        hub.connections.remove(context.channel)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is HubShutdownEvent { close(context: context, code: .goingAway, reason: "server shutting down") }
        context.fireUserInboundEventTriggered(event)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch control.receive(unwrapInboundIn(data), context: context) {
        case .message(let frame) where frame.opcode == .binary:
            ingest(frame.unmaskedData, context: context)
        case .message:
            violation(context: context, code: .unacceptableData, reason: "ingest takes binary tick batches")
        case .pong, .handled, .ping:  // `receive` has written the pong of a ping
            break
        case .peerClosed(let reply):
            close(context: context, code: reply, reason: "")
        case .violation(let reason):
            violation(context: context, code: .protocolError, reason: reason)
        }
    }

    private func ingest(_ payload: ByteBuffer, context: ChannelHandlerContext) {
        let batch: FeedBatch
        do {
            batch = try BinaryTickCodec.decodeFeedBatch(payload)
        } catch {
            return violation(context: context, code: .dataInconsistentWithMessage, reason: "bad tick batch: \(error)")
        }
        let directory = hub.engine.directory
        // The quota is asked once per batch and again only after a new symbol, not per tick: a batch
        // is up to 65,535 ticks, nearly all of known symbols.
        let quotas = hub.publisherQuotas
        var mayAdd = quotas.mayAdd(identity)
        var updates: [FeedUpdate] = []
        updates.reserveCapacity(batch.ticks.count)
        var books: [BookFeedUpdate] = []
        books.reserveCapacity(batch.books.count)
        let arrival = Timestamp.now()
        // Each symbol, ticks' and books' alike: entitled to publish it, and within the quota of new ones.
        func register(_ symbol: Symbol) -> SymbolID? {
            guard allowedSymbols.isEverything || allowedSymbols.allows(symbol.name) else {
                violation(context: context, code: .policyViolation, reason: "not entitled to publish \(symbol.name)")
                return nil
            }
            guard let (id, isNew) = directory.register(symbol, mayAdd: mayAdd) else {
                violation(
                    context: context, code: .policyViolation,
                    reason: mayAdd ? "symbol limit reached" : "new symbol limit per publisher reached")
                return nil
            }
            if isNew { mayAdd = quotas.added(identity) }
            return id
        }
        for tick in batch.ticks {
            guard let id = register(tick.symbol) else { return }
            let timestamp = tick.timestamp.nanosecondsSinceEpoch == 0 ? arrival : tick.timestamp
            updates.append(
                FeedUpdate(
                    symbolID: id, symbol: tick.symbol, timestamp: timestamp, body: tick.body, upstreamSeq: tick.seq))
        }
        var details: [(SymbolID, InstrumentRecord)] = []
        for instrument in batch.instruments {
            guard let id = register(instrument.symbol) else { return }
            details.append((id, instrument))
        }
        hub.engine.publisher.publishDetails(details)
        for book in batch.books {
            guard let id = register(book.symbol) else { return }
            let timestamp = book.timestamp.nanosecondsSinceEpoch == 0 ? arrival : book.timestamp
            books.append(
                BookFeedUpdate(
                    symbolID: id, symbol: book.symbol, timestamp: timestamp, change: book.change,
                    replacesBook: book.replacesBook, upstreamSeq: book.seq))
        }
        hub.metrics.ingestBatches.wrappingIncrement(ordering: .relaxed)
        inFlight += 1
        if inFlight > limits.pauseAboveBatches, !paused {
            paused = true
            context.channel.setOption(ChannelOptions.autoRead, value: false).whenFailure { _ in }
        }
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        hub.engine.publisher.submit(updates, books: books).hop(to: context.eventLoop).whenComplete { _ in
            let (session, context) = loopBound.value
            session.inFlight -= 1
            if session.paused, session.inFlight < session.limits.resumeBelowBatches {
                session.paused = false
                context.channel.setOption(ChannelOptions.autoRead, value: true).whenFailure { _ in }
            }
        }
    }

    func violation(context: ChannelHandlerContext, code: WebSocketErrorCode, reason: String) {
        hub.metrics.ingestRejected.wrappingIncrement(ordering: .relaxed)
        hub.metrics.protocolViolations.wrappingIncrement(ordering: .relaxed)
        hub.logger.warning("publisher rejected", metadata: ["reason": "\(reason)"])
        close(context: context, code: code, reason: reason)
    }

    private func close(context: ChannelHandlerContext, code: WebSocketErrorCode, reason: String) {
        guard control.markCloseSent() else { return }
        CloseHandshake.send(code: code, reason: reason, context: context, grace: hub.configuration.closeGrace)
    }
}
