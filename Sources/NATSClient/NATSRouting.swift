import NIOCore

/// Where each incoming message goes: the handler of its subscription, or the request it answers.
/// The client's subscriptions are kept here to be made again on every connection; requests share
/// one wildcard inbox subscription, and each waits for its answer under a reply subject of its own.
/// Confined to the client's loop.
struct NATSRouting {
    struct Subscription {
        let subject: String
        let queue: String?
        let handler: NATSClient.Handler
    }

    private(set) var subscriptions: [UInt64: Subscription] = [:]
    private var nextSID: UInt64 = 1
    /// `_INBOX.<random>`: made at the first request.
    private(set) var inboxPrefix: String?
    private var requests: [String: (answer: EventLoopPromise<NATSMessage>, timeout: Scheduled<Void>)] = [:]
    private var nextRequest: UInt64 = 0

    /// Every subscription by its id, oldest first, as the handshake makes them again.
    var inOrder: [(sid: UInt64, subscription: Subscription)] {
        subscriptions.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }

    /// Keeps a subscription; returns its id.
    mutating func add(_ subject: String, queue: String?, handler: @escaping NATSClient.Handler) -> UInt64 {
        let sid = nextSID
        nextSID += 1
        subscriptions[sid] = Subscription(subject: subject, queue: queue, handler: handler)
        return sid
    }

    /// Forgets a subscription; false if there was none.
    mutating func remove(_ sid: UInt64) -> Bool {
        subscriptions.removeValue(forKey: sid) != nil
    }

    /// The inbox's prefix, and the subject its subscription must take if this is the first request.
    mutating func inbox() -> (prefix: String, newSubscription: String?) {
        if let inboxPrefix { return (inboxPrefix, nil) }
        let prefix = "_INBOX.\(UInt64.random(in: 0...UInt64.max))"
        inboxPrefix = prefix
        return (prefix, prefix + ".*")
    }

    /// A new request's reply subject, under the inbox.
    mutating func nextReplySubject(inbox prefix: String) -> String {
        nextRequest += 1
        return "\(prefix).\(nextRequest)"
    }

    mutating func await(_ replyTo: String, answer: EventLoopPromise<NATSMessage>, timeout: Scheduled<Void>) {
        requests[replyTo] = (answer, timeout)
    }

    /// The request `replyTo` timed out: it fails, if it was still waiting.
    mutating func timedOut(_ replyTo: String) {
        requests.removeValue(forKey: replyTo)?.answer.fail(NATSClientError.timedOut)
    }

    /// Hands `message` to the request it answers or to its subscription's handler.
    mutating func deliver(_ message: NATSMessage) {
        if !requests.isEmpty, let request = requests.removeValue(forKey: message.subject) {
            request.timeout.cancel()
            if message.status == 503 {
                request.answer.fail(NATSClientError.noResponders)
            } else {
                request.answer.succeed(message)
            }
        } else {
            subscriptions[message.sid]?.handler(message)
        }
    }

    /// Fails every waiting request (the client closed).
    mutating func failRequests(_ error: any Error) {
        for request in requests.values {
            request.timeout.cancel()
            request.answer.fail(error)
        }
        requests.removeAll()
    }
}
