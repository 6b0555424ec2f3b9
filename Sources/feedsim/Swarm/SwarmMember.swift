import FeedModel
import NIOCore
import NIOWebSocket

/// One dashboard of the swarm over its lifetime: its first connection, and, when a hub goes away
/// (1001 going away, 1012 feed restarted, 1011, or the connection simply lost), reconnects to the
/// next of `--url`'s hubs with jittered backoff (equal jitter from 250 ms, doubling to 4 s per failed
/// attempt), subscribes again and re-bases from the snapshots, counting what it missed. A client
/// the hub closed for cause (4008 slow consumer, a protocol error) stays closed, as a real one would.
///
/// Confined to its loop.
final class SwarmMember: @unchecked Sendable {
    typealias Connect = (_ url: WebSocketURL, _ book: SeqBook) -> EventLoopFuture<any Channel>

    let eventLoop: any EventLoop
    private let urls: [WebSocketURL]
    private var urlIndex: Int
    private let connect: Connect
    private let stats: SwarmLoopStats
    let book = SeqBook()
    private(set) var channel: (any Channel)?
    private var finished = false
    private var failedAttempts = 0

    static let firstRetry = TimeAmount.milliseconds(250)
    static let maxRetry = TimeAmount.seconds(4)
    /// Close codes after which a dashboard comes back (elsewhere); others end it.
    static let reconnectingCodes = Set(
        [CloseCode.goingAway, .abnormal, .internalError, .serviceRestart, .tryAgainLater].map(\.rawValue))

    init(urls: [WebSocketURL], first: Int, eventLoop: any EventLoop, stats: SwarmLoopStats, connect: @escaping Connect)
    {
        self.urls = urls
        self.urlIndex = first % urls.count
        self.eventLoop = eventLoop
        self.stats = stats
        self.connect = connect
    }

    var isOpen: Bool { channel?.isActive ?? false }

    /// The first connection; its failure is the swarm's "failed to connect" (no retry).
    func start() -> EventLoopFuture<Void> {
        connect(urls[urlIndex], book).hop(to: eventLoop).map { channel in self.attach(channel) }
    }

    /// Stops reconnecting (the run is ending).
    func finish() {
        eventLoop.assertInEventLoop()
        finished = true
    }

    private func attach(_ channel: any Channel) {
        self.channel = channel
        failedAttempts = 0
        stats.open &+= 1
        channel.closeFuture.hop(to: eventLoop).whenComplete { _ in
            self.stats.open &-= 1
            self.lost(channel)
        }
    }

    private func lost(_ channel: any Channel) {
        guard !finished, channel === self.channel else { return }
        let client = try? channel.pipeline.syncOperations.handler(type: SwarmClient.self)
        let code = client?.closeCode ?? 1006
        guard Self.reconnectingCodes.contains(code) else { return }
        self.channel = nil
        scheduleReconnect()
    }

    private func scheduleReconnect() {
        failedAttempts += 1
        let ceiling = min(Self.maxRetry.nanoseconds, Self.firstRetry.nanoseconds << min(failedAttempts - 1, 8))
        let delay = TimeAmount.nanoseconds(ceiling / 2 + Int64.random(in: 0...(ceiling / 2)))
        urlIndex = (urlIndex + 1) % urls.count
        eventLoop.scheduleTask(in: delay) { self.reconnect() }
    }

    private func reconnect() {
        guard !finished else { return }
        connect(urls[urlIndex], book).hop(to: eventLoop).whenComplete { result in
            switch result {
            case .success(let channel):
                self.stats.reconnects &+= 1
                self.attach(channel)
            case .failure:
                self.stats.reconnectFailures &+= 1
                self.scheduleReconnect()
            }
        }
    }
}
