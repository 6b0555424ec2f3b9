import AccessControl
import FeedModel
import NIOCore

/// What a session's client may follow: its token, refreshed by `auth` requests (docs/PROTOCOL.md,
/// "Authentication"), and the symbol patterns it follows, which subscribe it to each new symbol
/// they match (and the token grants).
extension SubscriberSession {
    /// `{"op":"auth"}`: checks the new token off the loop, then puts it in force, if it is good and
    /// for the same subject. Subscriptions it no longer grants end, named in a `not_entitled` error.
    func refreshToken(_ token: String, id: Int64?) {
        guard let verifier = hub.configuration.auth else {
            reject(ProtocolError(id: id, code: .invalidToken, message: "this hub does not use access tokens"))
            return
        }
        guard !checkingToken else {
            reject(
                ProtocolError(
                    id: id, code: .invalidRequest,
                    message: "one auth request at a time: wait for the answer to the last"))
            return
        }
        checkingToken = true
        verifier.verify(token, on: connection.eventLoop).assumeIsolated().whenSuccess { [self] result in
            checkingToken = false
            tokenVerified(result, id: id)
        }
    }

    func tokenVerified(_ result: Result<AccessGrant, TokenRefusal>, id: Int64?) {
        guard isOpen, !closeSent else { return }
        switch result {
        case .failure(let refusal):
            reject(
                ProtocolError(
                    id: id, code: refusal == .expired ? .tokenExpired : .invalidToken, message: refusal.message))
        case .success(let fresh) where fresh.subject != grant.subject:
            reject(ProtocolError(id: id, code: .invalidToken, message: "the token is for another subject"))
        case .success(let fresh):
            grant = fresh
            let revoked = requests.revokeUngranted(by: fresh.symbols)
            send(.authenticated(id: id, expiresAt: fresh.expiresAtMilliseconds ?? 0))
            if revoked.isEmpty {
                writer.flush()
            } else {
                reject(.notEntitled(revoked, id: id))
            }
        }
    }

    func watchPatterns(_ watch: Bool) {
        let key = ObjectIdentifier(self)
        guard watch else { return hub.patternWatchers.unwatch(key) }
        let loop = fanout.eventLoop
        let session = NIOLoopBound(self, eventLoop: loop)
        hub.patternWatchers.watch(key) { symbol in loop.execute { session.value.symbolAppeared(symbol) } }
    }

    /// A symbol was registered: each pattern it matches (and the token grants) subscribes it, and
    /// the client gets its snapshot. Past the connection's limit it gets a `too_many_symbols` error.
    func symbolAppeared(_ symbol: Symbol) {
        guard isOpen, !closeSent, grant.symbols.allows(symbol.name) else { return }
        for entry in patterns where entry.pattern.matches(symbol) {
            switch requests.subscribeAppeared(symbol, for: entry) {
            case .success(let answers):
                for answer in answers { send(answer) }
                writer.flush()
            case .failure(let error):
                reject(error)
            }
        }
    }
}
