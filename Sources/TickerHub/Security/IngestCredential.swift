import NIOHTTP1

/// The secret a publisher must present to open `/ingest` (`--ingest-token`): in an
/// `Authorization: Bearer` header, or a `token` query parameter for clients that cannot set
/// headers. Without it anyone who reaches the port could publish prices that every subscriber
/// trusts. A hub that listens beyond loopback with `--feed ingest` refuses to start without one.
struct IngestCredential: Sendable, Equatable {
    private let token: [UInt8]

    init?(_ token: String?) {
        guard let token, !token.isEmpty else { return nil }
        self.token = Array(token.utf8)
    }

    /// Whether the request carries the token (`PresentedToken`). Compared in constant time for its
    /// length, so the answer's timing does not give the token away a byte at a time.
    func isPresented(in head: HTTPRequestHead) -> Bool {
        PresentedToken.find(in: head).map { matches($0.utf8) } ?? false
    }

    private func matches<Bytes: Collection>(_ candidate: Bytes) -> Bool where Bytes.Element == UInt8 {
        guard candidate.count == token.count else { return false }
        var difference: UInt8 = 0
        for (a, b) in zip(candidate, token) { difference |= a ^ b }
        return difference == 0
    }

    /// Whether `host` is only reachable from this machine.
    static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }
}
