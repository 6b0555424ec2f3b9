import EpollTransport
import NIOCore
import NIOHTTP1

/// Moves an upgraded WebSocket connection (a subscriber, or the echo listener's) from its NIO channel
/// to an owned loop (`--transport owned`).
///
/// Installed by the upgrade's pipeline handler, before NIO completes the upgrade: NIO has written the
/// 101 by then, and replays the bytes it read behind the request (a client's first frames, if it
/// did not wait for the 101) only after the handler returns, from the upgrade handler's place in
/// the pipeline onwards. So `SocketHandover` goes right after the upgrade handler, in front of the
/// frame decoder the upgrader added (which then never sees a byte): every byte, replayed or newly
/// read, reaches it undecoded. (Removing that decoder instead would not do: NIO's decoders leave the
/// pipeline a loop turn after they are asked to, and the replay would find it still there.) The handover itself runs in
/// a task queued on the channel's loop, which runs after that replay. Then the socket (a duplicate
/// of its descriptor, and the unread bytes) goes to the owned loop, and NIO's channel closes without
/// ending the connection. The connection's place in the limits goes with it.
enum OwnedHandover {
    static func install(
        in channel: any Channel, descriptor: CInt, to connections: OwnedConnections, place: ConnectionPlace?,
        framing: MessageFraming,
        makeSession: @escaping @Sendable (OwnedWebSocketConnection) throws -> any ConnectionSession
    ) throws {
        let sync = channel.pipeline.syncOperations
        let handover = SocketHandover(descriptor: descriptor)
        try sync.addHandler(handover, position: .after(try sync.handler(type: HTTPServerUpgradeHandler.self)))
        let bound = NIOLoopBound(handover, eventLoop: channel.eventLoop)
        let remoteAddress = channel.remoteAddress
        channel.eventLoop.execute {
            guard let context = try? channel.pipeline.syncOperations.context(handler: bound.value) else { return }
            place?.handOver()
            guard let socket = bound.value.takeOver(context: context) else {
                place?.release()
                return
            }
            connections.adopt(
                socket, remoteAddress: remoteAddress, place: place, framing: framing, makeSession: makeSession)
        }
    }
}
