/// How a subscriber's connection takes messages, from its WebSocket handshake.
public enum MessageEncoding {
    /// Plain frames.
    case plain
    /// permessage-deflate without server context takeover: the shared compressed frames.
    case sharedDeflate
    /// permessage-deflate with this connection's own compressor (context takeover): every frame is
    /// compressed for this subscriber alone, in the order it is written.
    case dedicatedDeflate(MessageDeflater)
    /// Subprotocol `tickerhub.v1.zstd`: every message a binary frame holding one zstd frame,
    /// compressed with the hub's shared dictionary (the same frames for every such subscriber).
    case zstd

    /// For logs.
    public var name: String {
        switch self {
        case .plain: "plain"
        case .sharedDeflate: "permessage-deflate shared"
        case .dedicatedDeflate: "permessage-deflate dedicated"
        case .zstd: "zstd"
        }
    }
}
