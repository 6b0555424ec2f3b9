import NIOCore
import NIOWebSocket
import Synchronization

/// Open WebSocket connections, so a graceful shutdown can say goodbye (close code 1001) to each.
final class ConnectionRegistry: Sendable {
    private let channels = Mutex<[ObjectIdentifier: any Channel]>([:])

    func add(_ channel: any Channel) {
        channels.withLock { $0[ObjectIdentifier(channel)] = channel }
    }

    func remove(_ channel: any Channel) {
        _ = channels.withLock { $0.removeValue(forKey: ObjectIdentifier(channel)) }
    }

    var count: Int { channels.withLock { $0.count } }

    /// Fires `event` through every open connection's pipeline (each on its own loop).
    func broadcast(_ event: some Sendable) {
        let open = channels.withLock { Array($0.values) }
        for channel in open { channel.pipeline.fireUserInboundEventTriggered(event) }
    }

    /// Asks every connection to close with 1001 and waits (briefly) for them to go.
    func closeAll() async {
        let open = channels.withLock { Array($0.values) }
        for channel in open {
            channel.pipeline.fireUserInboundEventTriggered(HubShutdownEvent())
        }
        for channel in open {
            _ = try? await channel.closeFuture.get()
        }
    }
}

/// Sent through each connection's pipeline on shutdown.
struct HubShutdownEvent: Sendable {}
