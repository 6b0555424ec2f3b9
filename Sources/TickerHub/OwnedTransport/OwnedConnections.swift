import EpollTransport
import FanoutEngine
import NIOCore
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The WebSocket connections one `EpollLoop` serves (the hub's subscribers; in a table of its own,
/// the echo listener's): a slot per connection, one epoll source for them all (a connection's slot
/// key is its epoll token), one read buffer they share, and the hub's events delivered to each.
///
/// Confined to `loop`, except `adopt`, `broadcast`, `closeAll` and `count`, which hop onto it.
final class OwnedConnections: EpollSource, ConnectionGroup, @unchecked Sendable {
    // @unchecked: `slots`, `spareReadBuffer` and `emptied` are confined to `loop`; `open` is atomic.

    /// Read at most this many bytes per `read`: subscribers send small requests.
    static let readBufferBytes = 16 * 1024
    /// Reads per connection per loop pass, so that one flooding client cannot hold the loop.
    static let readsPerPass = 4

    let loop: EpollLoop
    let allocator = ByteBufferAllocator()
    /// NIO's write-buffer water marks, as the hub sets them for its channels.
    let highWaterMark: Int
    let lowWaterMark: Int
    private let hub: Hub
    private var source: UInt8 = 0
    private var slots = SlotTable<OwnedWebSocketConnection>()
    private var spareReadBuffer: ByteBuffer?
    private let open = Atomic<Int>(0)
    /// `closeAll` waits for the table to empty.
    private var emptied: [EventLoopPromise<Void>] = []

    /// Call on `loop`.
    init(loop: EpollLoop, hub: Hub) {
        loop.assertInEventLoop()
        self.loop = loop
        self.hub = hub
        highWaterMark = hub.configuration.maxBacklogBytes
        lowWaterMark = hub.configuration.backlogResumeBytes
        source = loop.addSource(self)
    }

    var count: Int { open.load(ordering: .relaxed) }

    // MARK: Adoption

    /// Takes a socket from NIO, from any thread; on the loop, `makeSession` makes the session the
    /// connection carries. A socket the loop cannot register, or whose session cannot be made, is
    /// closed (its limits' place given back).
    func adopt(
        _ socket: HandedOverSocket, remoteAddress: SocketAddress?, place: ConnectionPlace?, framing: MessageFraming,
        makeSession: @escaping @Sendable (OwnedWebSocketConnection) throws -> any ConnectionSession
    ) {
        loop.execute { [self] in
            let connection = OwnedWebSocketConnection(
                descriptor: socket.descriptor, table: self, remoteAddress: remoteAddress,
                reader: ClientFrameReader(maxFrameSize: framing.maxMessageBytes),
                assembly: framing.assembly(inflater: hub.inflater(for: loop)),
                place: place)
            connection.key = slots.insert(connection)
            open.add(1, ordering: .relaxed)
            do {
                try loop.register(
                    socket.descriptor, events: [.readable, .writable, .peerClosed, .edgeTriggered], source: source,
                    token: connection.key.token)
            } catch {
                hub.logger.warning("cannot serve a connection on the owned transport", metadata: ["error": "\(error)"])
                connection.close()
                return
            }
            let session: any ConnectionSession
            do {
                session = try makeSession(connection)
            } catch {
                hub.logger.warning("cannot start a connection's session", metadata: ["error": "\(error)"])
                connection.close()
                return
            }
            connection.start(session: session, unread: socket.unread)
        }
    }

    // MARK: From the loop and the connections

    func ready(token: UInt64, events: EpollEvents) {
        slots[SlotKey(token: token)]?.ready(events)
    }

    /// A connection closed (it closed its socket already).
    func removed(_ key: SlotKey) {
        guard slots.remove(key) != nil else { return }
        if open.subtract(1, ordering: .relaxed).newValue == 0 {
            let waiting = emptied
            emptied = []
            for promise in waiting { promise.succeed() }
        }
    }

    /// The connection at `key` reads again in a pass of its own (it stopped to let others read).
    func readSoon(_ key: SlotKey) {
        loop.execute { [self] in slots[key]?.resumeReading() }
    }

    /// The connection at `key` closes in a task of its own (it found its socket broken mid-write).
    func closeSoon(_ key: SlotKey) {
        loop.execute { [self] in slots[key]?.close() }
    }

    /// The connection at `key`, closing, is closed after `grace` if it is still there.
    func closeAfter(_ grace: TimeAmount, _ key: SlotKey) {
        loop.scheduleTask(in: grace) { [self] in slots[key]?.close() }
    }

    /// The read buffer the loop's connections share (one reads at a time), or a new one while it is lent.
    func borrowReadBuffer() -> ByteBuffer {
        if let buffer = spareReadBuffer {
            spareReadBuffer = nil
            return buffer
        }
        return allocator.buffer(capacity: Self.readBufferBytes)
    }

    func returnReadBuffer(_ buffer: ByteBuffer) {
        spareReadBuffer = buffer
    }

    // MARK: ConnectionGroup

    func broadcast(_ event: any HubEvent) {
        loop.execute { [self] in
            for key in slots.keys { slots[key]?.handle(event) }
        }
    }

    func closeAll() async {
        let promise = loop.makePromise(of: Void.self)
        loop.execute { [self] in
            if open.load(ordering: .relaxed) == 0 {
                promise.succeed()
                return
            }
            emptied.append(promise)
            for key in slots.keys { slots[key]?.handle(HubShutdownEvent()) }
        }
        try? await promise.futureResult.get()
    }
}
