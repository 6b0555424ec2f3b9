import NIOCore
import NIOWebSocket
import Synchronization

/// Connections that are served as a group, on a transport of the hub's own (`OwnedConnections`):
/// the registry reaches them through their group, not one by one.
protocol ConnectionGroup: Sendable {
    var count: Int { get }
    /// Delivers `event` to every connection of the group, on its loop.
    func broadcast(_ event: any HubEvent)
    /// Closes every connection with 1001 and returns when none is left.
    func closeAll() async
}

/// Open WebSocket connections, so that the hub can tell each of them what happened (a stale feed, a
/// new epoch), and a graceful shutdown can say goodbye (close code 1001) to each: NIO channels one
/// by one, and the owned transport's connections through their groups.
final class ConnectionRegistry: Sendable {
    private let channels = Mutex<[ObjectIdentifier: any Channel]>([:])
    private let groups = Mutex<[any ConnectionGroup]>([])

    func add(_ group: any ConnectionGroup) {
        groups.withLock { $0.append(group) }
    }

    /// Forgets the groups (a stopped hub's: each holds the hub).
    func removeGroups() {
        groups.withLock { $0.removeAll() }
    }

    func add(_ channel: any Channel) {
        channels.withLock { $0[ObjectIdentifier(channel)] = channel }
    }

    func remove(_ channel: any Channel) {
        _ = channels.withLock { $0.removeValue(forKey: ObjectIdentifier(channel)) }
    }

    var count: Int { channels.withLock { $0.count } + groups.withLock { $0 }.reduce(0) { $0 + $1.count } }

    /// Fires `event` through every open connection's pipeline (each on its own loop).
    func broadcast(_ event: some HubEvent) {
        let open = channels.withLock { Array($0.values) }
        for channel in open { channel.pipeline.fireUserInboundEventTriggered(event) }
        for group in groups.withLock({ $0 }) { group.broadcast(event) }
    }

    /// Asks every connection to close with 1001 and waits (briefly) for them to go.
    func closeAll() async {
        let open = channels.withLock { Array($0.values) }
        for channel in open {
            channel.pipeline.fireUserInboundEventTriggered(HubShutdownEvent())
        }
        for group in groups.withLock({ $0 }) { await group.closeAll() }
        for channel in open {
            _ = try? await channel.closeFuture.get()
        }
    }
}

/// What the hub tells every open connection (`ConnectionRegistry.broadcast`).
protocol HubEvent: Sendable {}

/// Sent through each connection's pipeline on shutdown.
struct HubShutdownEvent: HubEvent {}
