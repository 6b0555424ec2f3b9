/// How a kind of WebSocket connection's incoming frames are assembled into messages, on either
/// transport (`MessageAssembler` in a NIO pipeline, `OwnedWebSocketConnection` on an owned loop):
/// the limits its kind of peer gets, and whether permessage-deflate was agreed. Compressed messages
/// are then inflated by the loop's one inflater, since the hub always asks for
/// `client_no_context_takeover`.
struct MessageFraming: Sendable {
    let maxMessageBytes: Int
    let maxFragments: Int
    let inflates: Bool

    /// The assembly for one connection on the loop whose inflater is `inflater`.
    func assembly(inflater: LoopInflater) -> MessageAssembly {
        MessageAssembly(
            maxMessageBytes: maxMessageBytes, maxFragments: maxFragments,
            inflater: inflates ? { inflater.shared() } : nil)
    }
}
