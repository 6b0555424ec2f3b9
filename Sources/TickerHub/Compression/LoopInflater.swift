import FanoutEngine
import NIOCore

/// One permessage-deflate inflater per event loop for the client messages of every connection on it.
/// The hub negotiates `client_no_context_takeover`, so each client message stands alone and no
/// connection needs inflate state of its own (~7 KB each, plus a 32 KB window once used). Made on
/// first use. Confined to its loop.
final class LoopInflater: @unchecked Sendable {
    // @unchecked: the inflater is only touched on `eventLoop`.
    let eventLoop: any EventLoop
    private var inflater: MessageInflater?

    init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    func shared() -> MessageInflater? {
        eventLoop.assertInEventLoop()
        if inflater == nil { inflater = try? MessageInflater(contextTakeover: false) }
        return inflater
    }
}
