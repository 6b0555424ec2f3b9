import NIOCore

/// A session's slow and silent clients (docs/PROTOCOL.md, "Slow clients"): reads held while the
/// backlog is full, catch-up once it drains, eviction when it will not, and the keep-alive checks
/// (heartbeats, pings, timeouts, a lapsed token).
extension SubscriberSession {
    /// The connection's backlog crossed its high-water mark, one way or the other.
    func writabilityChanged() {
        // Judge by the state now, not by which way the change went: NIO reports changes after the
        // fact, and a quick full-then-drained can arrive as a single event, or none.
        let isWritable = connection.isWritable
        switch backlog.writability(isWritable, now: .now()) {
        case .filled:
            hub.metrics.backloggedConnections.wrappingIncrement(ordering: .relaxed)
        case .drained:
            hub.metrics.backloggedConnections.wrappingDecrement(ordering: .relaxed)
            // The client read what we queued: as good a sign of life as a pong.
            liveness.heardFrom(at: .now())
            if subscriber.staleCount > 0 { fanout.catchUp(subscriber) }
            readIfHeld()
        case .none:
            if isWritable, subscriber.staleCount > 0 { fanout.catchUp(subscriber) }
        }
    }

    /// Whether the transport may read now (`ReadGate`); if not, the session asks for the read with
    /// `WebSocketConnection.resumeReading` once it may.
    func mayRead() -> Bool {
        readGate.mayRead(backlogFull: backlog.isFull, requestsWaiting: pacing.hasWaiting, closing: closeSent)
    }

    /// Something that held reads cleared: the held read asks the gate again.
    func readIfHeld() {
        if readGate.takeHeld() { connection.resumeReading() }
    }

    func evictIfHopeless(now: NIODeadline) {
        guard !closeSent, backlog.isFull else { return }
        let bytes = connection.backlogBytes
        guard let rule = backlog.evictionRule(now: now, backlogBytes: bytes) else { return }
        hub.metrics.slowConsumerEvictions.wrappingIncrement(ordering: .relaxed)
        hub.logger.notice(
            "evicting slow consumer",
            metadata: [
                "remote": "\(remoteText)", "rule": "\(rule)",
                "backlog_bytes": "\(bytes)", "stale_symbols": "\(subscriber.staleCount)",
                "dropped": "\(subscriber.dropped)",
            ])
        // The close frame queues behind the backlog; a client that reads again soon still gets it.
        close(.slowConsumer, grace: backlog.closeGrace)
    }

    /// Twice a second (`KeepAliveSweep`): heartbeat, ping, or close, as `liveness` decides; eviction
    /// if the backlog is hopeless; and the close of a connection whose token lapsed.
    func checkLiveness(now: NIODeadline) {
        guard isOpen, !closeSent else { return }
        if grant.hasExpired(at: now) {
            hub.metrics.tokenExpiries.wrappingIncrement(ordering: .relaxed)
            hub.logger.info(
                "closing a subscriber whose token expired", metadata: ["subject": "\(grant.subject ?? "-")"])
            close(.tokenExpired)
            return
        }
        evictIfHopeless(now: now)
        guard !closeSent else { return }
        let wrote = subscriber.wroteSinceLastCheck
        subscriber.wroteSinceLastCheck = false
        if liveness.heartbeatDue(now: now, wroteSinceLastCheck: wrote, backlogFull: backlog.isFull) {
            send(.heartbeat(timestamp: .now()))
            writer.flush()
            subscriber.wroteSinceLastCheck = false
        }
        switch liveness.pingAction(now: now, backlogFull: backlog.isFull, backlogBytes: { connection.backlogBytes }) {
        case .none:
            break
        case .ping:
            connection.writeControl(.ping, payload: ByteBuffer(string: "tickerhub"))
            connection.flush()
        case .timedOut:
            hub.metrics.pingTimeouts.wrappingIncrement(ordering: .relaxed)
            hub.logger.info("closing unresponsive subscriber", metadata: ["remote": "\(remoteText)"])
            close(code: .goingAway, reason: "ping timeout")
        }
    }
}
