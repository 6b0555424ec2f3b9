import FanoutEngine

/// How a subscriber's handshake said its messages travel (`ConnectionAdmission`): permessage-deflate
/// as agreed, the zstd subprotocol, or plain; on whichever transport it is served.
struct SubscriberEncoding: Sendable {
    let deflate: PerMessageDeflateNegotiation.Agreement?
    let zstd: Bool

    /// The fan-out's encoding: the shared compressed frames where the agreement allows them and the
    /// hub shares, else a compressor of the connection's own.
    func messageEncoding(configuration: HubConfiguration) throws -> MessageEncoding {
        switch deflate {
        case nil: zstd ? .zstd : .plain
        case let agreement? where agreement.usesSharedFrames && configuration.deflate == .shared: .sharedDeflate
        case let agreement?:
            .dedicatedDeflate(
                try MessageDeflater(
                    contextTakeover: !agreement.serverNoContextTakeover,
                    windowBits: agreement.serverWindowBits, memoryLevel: 4))
        }
    }
}
