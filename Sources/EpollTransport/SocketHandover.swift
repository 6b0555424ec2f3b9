import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// A connected socket that a NIO channel served until now (the HTTP request and the WebSocket
/// handshake), handed to the owned transport: a descriptor NIO never saw, and the bytes NIO had read
/// that nothing consumed (a client may send its first message right behind the upgrade request).
public struct HandedOverSocket: Sendable {
    public let descriptor: CInt
    public let unread: ByteBuffer?
}

/// Takes a socket out of a NIO channel without ending the connection.
///
/// NIO has no API to release a channel's descriptor, so the handover works from the other side: the
/// transport that accepted the socket and adopted it into NIO (`ClientBootstrap.withConnectedSocket`)
/// knows its descriptor. At the handover, on the channel's loop, with everything written already:
/// - the descriptor is duplicated (`dup`, close-on-exec), so the socket has a second reference;
/// - the channel is closed: NIO deregisters its descriptor from its epoll and closes it, and since
///   the duplicate keeps the socket open, no FIN is sent and the peer notices nothing;
/// - whatever bytes reached this handler meanwhile travel with the duplicate.
///
/// Installed where it sees the raw bytes, with no decoder in front of it (first in a plain pipeline;
/// right after the upgrade handler in an upgraded one, so that the bytes it replays reach it too),
/// and it passes none of them on. The caller must make sure nothing is still queued for
/// writing in NIO: a channel's pending writes are failed when it closes.
public final class SocketHandover: ChannelInboundHandler, RemovableChannelHandler {
    public typealias InboundIn = ByteBuffer

    private let descriptor: CInt
    private var unread: ByteBuffer?

    /// `descriptor`: the socket's descriptor in the channel, known to whoever adopted it.
    public init(descriptor: CInt) {
        self.descriptor = descriptor
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        if unread == nil {
            unread = bytes
        } else {
            unread!.writeBuffer(&bytes)
        }
    }

    /// Duplicates the descriptor and closes the channel; nil if the channel is no longer open (the
    /// peer went away first) or the process is out of descriptors (the channel is then closed too).
    public func takeOver(context: ChannelHandlerContext) -> HandedOverSocket? {
        guard context.channel.isActive else { return nil }
        // On the loop, and the channel is closed before this returns: NIO reads nothing more.
        let duplicate = fcntl(descriptor, F_DUPFD_CLOEXEC, 0)
        context.close(promise: nil)
        guard duplicate >= 0 else { return nil }
        return HandedOverSocket(descriptor: duplicate, unread: unread)
    }
}
