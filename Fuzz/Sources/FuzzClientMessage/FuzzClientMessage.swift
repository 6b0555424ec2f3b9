import FeedModel
import FuzzSupport

/// One input from libFuzzer: one subscriber message. Whatever the bytes, parsing must return (no
/// trap, no sanitizer report), and what it accepts must be within the limits it was given.
@main
enum FuzzClientMessage {
    static func main() { FuzzerDriver.run(fuzzOne) }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    let limits = ClientMessage.Limits(maxMessageBytes: 4096, maxSymbolsPerRequest: 16)
    switch ClientMessage.parse(bytes, limits: limits) {
    case .success(let message):
        precondition(size <= limits.maxMessageBytes, "accepted a message over the size limit")
        switch message {
        case .subscribe(_, let symbols, _, _, let channel):
            precondition(symbols.count <= limits.maxSymbolsPerRequest, "accepted more symbols than the limit")
            if case .book(let depth) = channel {
                precondition(OrderBook.depths.contains(depth), "accepted a depth not served")
            }
        case .unsubscribe(_, let symbols, let channel):
            precondition(symbols.count <= limits.maxSymbolsPerRequest, "accepted more symbols than the limit")
            if case .book(let depth?) = channel {
                precondition(OrderBook.depths.contains(depth), "accepted a depth not served")
            }
        case .auth(_, let token):
            precondition(!token.isEmpty, "accepted an empty token")
        case .list, .ping, .stats:
            break
        }
    case .failure(let error):
        precondition(!error.message.isEmpty, "an error without a message")
    }
    return 0
}
