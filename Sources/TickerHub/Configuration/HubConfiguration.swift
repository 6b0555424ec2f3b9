import FanoutEngine
import FeedModel
import Logging
import NIOCore

/// Everything the hub is configured with, in one value. Filled from CLI flags and environment
/// variables by `TickerHubCommand`, printed at start-up, and built directly by tests.
struct HubConfiguration: Sendable, CustomStringConvertible {
    enum FeedMode: String, Sendable, CaseIterable {
        /// The embedded market simulator.
        case sim
        /// Ticks published by clients on `/ingest` (e.g. `feedsim publish`).
        case ingest
        /// Ticks from NATS subjects `ticks.<SYMBOL>` (`natsServers`), numbered by their publisher.
        case nats
    }

    /// What the simulated market lists: the first N of the default universe, or named tickers.
    enum SymbolSelection: Sendable, Equatable {
        case count(Int)
        case names([Symbol])
    }

    var host = "127.0.0.1"
    /// 0 asks the OS for a free port (tests use this).
    var port = 8080
    var feed = FeedMode.sim
    /// With `feed == .nats`: the cluster's servers (`nats://host:port`); more are learnt from them.
    var natsServers: [String] = []
    /// Also publish the simulated market to these NATS servers (`--publish-nats`), to feed other hubs.
    var publishNATS: [String] = []
    /// The token the NATS servers require (`nats-server --auth`), for the feed and the publication.
    var natsToken: String?
    var symbols = SymbolSelection.count(500)
    /// Simulated ticks per second across all symbols.
    var ticksPerSecond = 100.0
    var seed: UInt64 = 42
    /// When set, the simulator runs at 10× the rate for `burstLengthSeconds` every `burstPeriodSeconds`.
    var burstPeriodSeconds: Double?
    var burstLengthSeconds = 2.0
    /// How often the simulated feed publishes a batch.
    var feedIntervalMilliseconds = 1
    /// Socket event loops (threads), each with its own fan-out consumer; the first also publishes.
    /// One by default, from measurement (Benchmarks/ANALYSIS.md): on this 2-core machine, with the
    /// clients' load on the same cores, one loop gave the most deliveries per CPU-second at every load
    /// of the benchmark matrix (a second loop costs a cross-thread wake per batch and a second cache,
    /// and competes with everything else for the other core) and as good a p99 below saturation.
    /// Raise it on a machine with cores to spare for the hub: a second loop then delivered 20–30%
    /// more under overload, at a lower p99.
    var eventLoops = 1
    /// What carries subscribers once their handshake is done: the hub's own epoll loops
    /// (`OwnedConnections`), which cost less per write and per connection than NIO channels on every
    /// load of the benchmark matrix (Benchmarks/ANALYSIS.md, "The socket path"), or NIO channels,
    /// which a hub with TLS or a NATS feed uses (`--transport auto`, the default, chooses). HTTP,
    /// handshakes and publishers run on NIO either way.
    var transport = SubscriberTransport.owned

    /// Whether subscribers go to owned loops: `transport` says so and nothing needs NIO (the flags
    /// refuse `--transport owned` with TLS or NATS; this keeps a configuration built in code from
    /// handing a TLS socket's raw bytes to a plain-TCP transport).
    var usesOwnedTransport: Bool { transport == .owned && tls == nil && feed != .nats && publishNATS.isEmpty }
    /// Default idle time before a `heartbeat` message, for connections that do not choose one
    /// (`/ws?heartbeat=MS`); 0: none. Off by default: at thousands of quiet connections, heartbeats
    /// were five times the market data; pings find dead links without them.
    var heartbeatMilliseconds = 0
    /// A connection with no inbound traffic for this long is pinged; after twice this long, closed.
    var pingIntervalSeconds = 30
    var maxSymbolsPerConnection = 1_000
    /// Most updates one `subscribe` may replay in recovery; past it, symbols get snapshots. A
    /// replay is written to the connection at once and cannot be conflated, and a backlog past
    /// `backlogHardLimitBytes` (512 KiB by default) is evicted: 2,000 updates are ~260 KB of JSON.
    var maxReplayPerRequest = 2_000
    /// The fan-out engine: ring size, drain limits and pacing, the compression threshold.
    var engine = EngineConfiguration()
    /// The most a subscriber connection may have queued in the hub (its NIO outbound buffer). It is
    /// the connection's high-water mark: above it the connection is not writable, and updates for it
    /// are conflated instead of queued (docs/PROTOCOL.md, "Slow clients").
    var maxBacklogBytes = 128 * 1024
    /// A connection becomes writable again, and is caught up, once its backlog is below this.
    var backlogResumeBytes: Int { maxBacklogBytes / 4 }
    /// Request answers (acks, snapshots, symbol lists) cannot be conflated. A client that keeps
    /// sending requests while not reading can push its backlog past `maxBacklogBytes`; past this
    /// hard limit it is evicted at once.
    var backlogHardLimitBytes: Int { backlogHardLimitFactor * maxBacklogBytes }
    /// The hard limit as a multiple of `maxBacklogBytes`: room for a burst of answers (a page of
    /// `list`, a thousand snapshots) on top of a full backlog, and no more.
    var backlogHardLimitFactor = 4
    /// The kernel send buffer of each accepted socket (`SO_SNDBUF`; Linux doubles it). Without it,
    /// Linux grows the buffer up to 4 MiB for a client that stopped reading: memory outside the
    /// backlog bound, and megabytes of stale updates the client must read before the latest value.
    /// 0 leaves the OS default (auto-tuning).
    var socketSendBufferBytes = 64 * 1024
    /// A connection whose backlog stays full for this long is closed with 4008 "slow consumer".
    var slowClientTimeoutSeconds = 30.0
    /// How long an evicted slow consumer may take to read what is queued and the Close behind it.
    var slowConsumerCloseGrace = TimeAmount.seconds(5)
    /// How long any other closing connection gets to answer our Close before the TCP close.
    var closeGrace = TimeAmount.seconds(1)
    /// permessage-deflate (RFC 7692): off, shared (each message compressed once for all), or
    /// dedicated (a compressor per connection, with context takeover).
    var deflate = PerMessageDeflateNegotiation.Mode.shared
    /// The dedicated mode's LZ77 window; it bounds the memory per connection (`MessageDeflater.memoryBytes`).
    var dedicatedDeflateWindowBits: Int32 = 11
    /// Offer the `tickerhub.v1.zstd` subprotocol (zstd with a dictionary trained at start-up).
    var zstd = true
    /// The web pages allowed to open `/ws` and `/ingest` (`--allowed-origin`); empty: any.
    var origins = OriginPolicy(allowed: [])
    /// `--trusted-proxy`: peers whose `X-Forwarded-For` names the client the limits count.
    var trustedProxies = TrustedProxies.none
    /// Access tokens (`--auth-secret`, `--auth-public-key`): when set, every WebSocket needs one
    /// (`RequestAuthentication`); nil: auth off, the open demo.
    var auth: TokenVerifier?
    /// `--tls-cert` and `--tls-key`: when set, the listeners speak TLS only (`wss://`, `https://`).
    var tls: TLSFiles?
    /// When set, `/metrics`, `/stats`, `/ops` and `/ingest` move to a listener of their own on this
    /// port (`ListenerRole`), and the public one serves market data only.
    var adminPort: Int?
    /// Where the admin listener binds: loopback unless the operator says otherwise.
    var adminHost = "127.0.0.1"
    /// When set, a second listener on this port echoes every message (conformance testing only).
    var echoPort: Int?
    /// Largest WebSocket message accepted from a subscriber (they only send small JSON requests).
    var maxClientMessageBytes = 64 * 1024
    /// Most frames one subscriber message may be fragmented into: a request is small, and each
    /// fragment costs a frame decode, so a client may not spread one over thousands.
    var maxClientFragments = 64
    /// WebSocket connections in total and per IP, and handshakes per second per IP (`ConnectionLimits`).
    var connectionLimits = ConnectionLimits.Configuration()
    /// How long a connection may take to finish an HTTP request (or its WebSocket handshake), from
    /// its start or the end of its previous request (`RequestDeadline`): against connections that
    /// send nothing, or their headers a byte at a time. A real client needs milliseconds.
    var requestTimeout = TimeAmount.seconds(5)
    /// The largest request head, request line and headers (`AdmissionGate`, 431 past it). A browser's
    /// handshake with cookies is 1–4 KiB; a token in the URL or `Authorization` adds under 2.
    var maxHeaderBytes = 16 * 1024
    /// Requests a subscriber may send per second, sustained (a `TokenBucket`); past it, and past
    /// the burst, the connection is closed with 1008. A dashboard sends a handful per minute.
    var maxRequestsPerSecond = 20.0
    /// Requests a subscriber may send at once after a quiet spell: a watchlist subscribing symbol
    /// by symbol, a page resubscribing after a reconnect.
    var requestBurst = 200
    /// Symbols per `list` answer: at most ~19 KB (16-character names), far under the backlog limits
    /// whatever an ingest feed registered, so a client that asks politely is never evicted for it.
    var listPageSize = 1_000
    /// The `/ingest` publishers' limits.
    var ingest = IngestLimits()
    var logLevel = Logger.Level.info

    var description: String {
        let symbolText: String =
            switch symbols {
            case .count(let n): "\(n) simulated"
            case .names(let names): names.map(\.name).joined(separator: ",")
            }
        var text = "host=\(host) port=\(port) feed=\(feed.rawValue) event-loops=\(eventLoops) ring=\(engine.ringBytes)B"
        if feed == .nats { text += " nats=\(natsServers.joined(separator: ","))" }
        if !publishNATS.isEmpty { text += " publish-nats=\(publishNATS.joined(separator: ","))" }
        if feed == .nats || !publishNATS.isEmpty { text += " nats-token=\(natsToken == nil ? "none" : "set")" }
        if feed == .sim {
            text += " symbols=\(symbolText) rate=\(Int(ticksPerSecond))/s seed=\(seed)"
            if let burstPeriodSeconds { text += " burst=10x for \(burstLengthSeconds)s every \(burstPeriodSeconds)s" }
        }
        text += " heartbeat=\(heartbeatMilliseconds)ms max-symbols=\(maxSymbolsPerConnection)"
        text += " history=\(engine.historyDepth) max-replay=\(maxReplayPerRequest)"
        text +=
            """
             max-requests=\(maxRequestsPerSecond)/s burst=\(requestBurst)\
             request-timeout=\(requestTimeout.milliseconds)ms max-header=\(maxHeaderBytes)B
            """
        text += " max-connections=\(connectionLimits.maxConnections) per-ip=\(connectionLimits.maxConnectionsPerIP)"
        text +=
            " handshakes-per-ip=\(connectionLimits.handshakesPerSecondPerIP)/s burst=\(connectionLimits.handshakeBurst)"
        text += " transport=\(transport.rawValue)"
        text +=
            """
             deflate=\(deflate.rawValue) deflate-threshold=\(engine.deflateThresholdBytes)B\
             zstd=\(zstd ? "on" : "off")
            """
        if let echoPort { text += " echo-port=\(echoPort)" }
        if let adminPort { text += " admin=\(adminHost):\(adminPort)" }
        if feed == .ingest {
            text +=
                """
                 ingest-token=\(ingest.credential == nil ? "none" : "set")\
                 max-new-symbols-per-publisher=\(ingest.maxNewSymbolsPerPublisher)
                """
        }
        text += " auth=" + (auth?.algorithm ?? "off") + " tls=" + (tls == nil ? "off" : "on")
        text +=
            " allowed-origins=" + (origins.allowed.isEmpty ? "any" : origins.allowed.sorted().joined(separator: ","))
        if !trustedProxies.isEmpty { text += " trusted-proxies=\(trustedProxies.prefixes.count)" }
        text +=
            """
             max-backlog=\(maxBacklogBytes)B socket-send-buffer=\(socketSendBufferBytes)B\
             slow-client-timeout=\(slowClientTimeoutSeconds)s
            """
        if engine.pacing.maxDelay > .zero { text += " max-drain-delay=\(engine.pacing.maxDelay.inMilliseconds)ms" }
        text +=
            " drain-budget=\(engine.drain.budget.milliseconds)ms max-fanout-lag=\(engine.drain.maxLag.milliseconds)ms"
        text += " records-per-drain=\(engine.drain.maxRecords)"
        return text
    }
}

/// What an `/ingest` publisher may send, and how far it may run ahead of the publisher thread.
struct IngestLimits: Sendable {
    /// Largest message accepted (a binary tick batch of up to 65,535 ticks is ~2.4 MB).
    var maxMessageBytes = 4 << 20
    /// Most frames one batch may be fragmented into.
    var maxFragments = 1024
    /// Batches waiting for the publisher thread above which the connection stops reading, so that a
    /// fast publisher is slowed by TCP instead of growing the hub's memory...
    var pauseAboveBatches = 16
    /// ...and below which it reads again (apart from the pause mark, so it does not flap).
    var resumeBelowBatches = 4
    /// What a publisher must present (`--ingest-token`); nil: none, allowed only on loopback.
    var credential: IngestCredential?
    /// New symbols one publisher may add to the directory (`--max-new-symbols-per-publisher`), so
    /// that one publisher cannot fill it (100,000) with junk and lock every other symbol out. Counted
    /// per publisher, not per connection: reconnecting does not start it again (`PublisherQuotas`).
    var maxNewSymbolsPerPublisher = 10_000
}

extension TimeAmount {
    /// For the configuration's one-line description.
    var milliseconds: Double { Double(nanoseconds) / 1e6 }
}

extension Duration {
    var inMilliseconds: Double { Double(self / .microseconds(1)) / 1000 }
}

/// What carries subscribers after their handshake (`--transport`).
enum SubscriberTransport: String, Sendable, CaseIterable {
    /// A NIO channel per subscriber.
    case nio
    /// The hub's own epoll loops (`EpollTransport`); not with TLS.
    case owned
}
