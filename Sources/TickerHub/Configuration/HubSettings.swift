import ArgumentParser

/// Every setting of the hub as a flag, in one group (`TickerHubCommand` takes it whole). Each is
/// also read from its environment variable and the config file (`SettingSources`), under the key
/// named after the flag; `HubSettings+Reading` turns them into a `HubConfiguration`, which checks
/// itself (`HubConfiguration.validate`). A new setting: its flag here, its line in the reader, its
/// field and check beside `HubConfiguration`, a row in README's table (a test holds them together).
struct HubSettings: ParsableArguments {
    @Option(help: "Address to listen on. (env TICKERHUB_HOST)")
    var host: String?

    @Option(help: "Port to listen on; 0 picks a free one. (env TICKERHUB_PORT)")
    var port: Int?

    @Option(
        help:
            """
            Feed source: sim (embedded simulator), ingest (publishers on /ingest), or NATS server URLs,\
             comma-separated (nats://127.0.0.1:4222,nats://127.0.0.1:4223): ticks from subjects ticks.<SYMBOL>.\
             (env TICKERHUB_FEED)
            """
    )
    var feed: String?

    @Option(
        help:
            """
            Also publish this hub's ticks to NATS (comma-separated server URLs), so it feeds hubs started with\
             --feed nats://...; with --feed sim. (env TICKERHUB_PUBLISH_NATS)
            """
    )
    var publishNats: String?

    @Option(
        help:
            """
            The token the NATS servers require (nats-server --auth), for --feed nats:// and --publish-nats.\
             Prefer the environment variable: arguments show in ps. (env TICKERHUB_NATS_TOKEN)
            """
    )
    var natsToken: String?

    @Option(
        help: "Simulated symbols: a count of the default universe, or a comma-separated list. (env TICKERHUB_SYMBOLS)")
    var symbols: String?

    @Option(help: "Simulated ticks per second, over all symbols. (env TICKERHUB_RATE)")
    var rate: Double?

    @Option(help: "Seed of the simulated market. (env TICKERHUB_SEED)")
    var seed: UInt64?

    @Option(
        help:
            """
            Run the simulator at 10x rate for --burst-for seconds every this many seconds; 0 is off. (env\
             TICKERHUB_BURST_EVERY)
            """
    )
    var burstEvery: Double?

    @Option(help: "Length of each burst, in seconds. (env TICKERHUB_BURST_FOR)")
    var burstFor: Double?

    @Option(
        help:
            """
            Socket event loops (threads); the first also publishes. One unless the hub has cores to itself (see\
             Benchmarks/ANALYSIS.md). (env TICKERHUB_EVENT_LOOPS)
            """
    )
    var eventLoops: Int?

    @Option(
        help:
            """
            Idle time after which a heartbeat message is sent, in milliseconds, for connections that do not\
             choose (/ws?heartbeat=MS); 0 for none. (env TICKERHUB_HEARTBEAT_MS)
            """
    )
    var heartbeatMs: Int?

    @Option(
        help:
            """
            Seconds without inbound traffic before a connection is pinged; unanswered for as long again, it is\
             closed. (env TICKERHUB_PING_INTERVAL)
            """
    )
    var pingInterval: Int?

    @Option(
        help:
            """
            Updates kept per symbol so that a reconnecting client can recover what it missed (subscribe with\
             \"since\"); 0 keeps none. Memory: 80 bytes per update kept, times the symbols. (env\
             TICKERHUB_HISTORY)
            """
    )
    var history: Int?

    @Option(
        help:
            """
            Most updates one subscribe may replay in recovery; symbols past it get snapshots instead. (env\
             TICKERHUB_MAX_REPLAY)
            """
    )
    var maxReplay: Int?

    @Option(help: "Most symbols one connection may subscribe to. (env TICKERHUB_MAX_SYMBOLS)")
    var maxSymbols: Int?

    @Option(
        help:
            """
            WebSocket connections the hub holds in total; past it a handshake gets 503. (env\
             TICKERHUB_MAX_CONNECTIONS)
            """
    )
    var maxConnections: Int?

    @Option(
        help:
            """
            WebSocket connections from one IP address; past it a handshake gets 429. (env\
             TICKERHUB_MAX_CONNECTIONS_PER_IP)
            """
    )
    var maxConnectionsPerIp: Int?

    @Option(
        help:
            """
            WebSocket handshakes one IP address may start per second, sustained; past it and past\
             --handshake-burst, 429. (env TICKERHUB_HANDSHAKES_PER_SECOND_PER_IP)
            """
    )
    var handshakesPerSecondPerIp: Double?

    @Option(help: "WebSocket handshakes one IP address may start at once. (env TICKERHUB_HANDSHAKE_BURST)")
    var handshakeBurst: Int?

    @Option(
        help:
            """
            Seconds a connection may take to finish an HTTP request or WebSocket handshake (from its start, or\
             the end of its previous request); then it is closed. (env TICKERHUB_REQUEST_TIMEOUT)
            """
    )
    var requestTimeout: Double?

    @Option(
        help:
            """
            Largest request head (request line and headers) in bytes; a bigger one is answered 431. NIO's parser\
             refuses past 80 KiB whatever this says. (env TICKERHUB_MAX_HEADER_BYTES)
            """
    )
    var maxHeaderBytes: Int?

    @Option(
        help:
            """
            Requests one subscriber connection may send per second, sustained; past it and past --request-burst,\
             the connection is closed with 1008. (env TICKERHUB_MAX_REQUESTS_PER_SECOND)
            """
    )
    var maxRequestsPerSecond: Double?

    @Option(
        help: "Requests one subscriber connection may send at once after a quiet spell. (env TICKERHUB_REQUEST_BURST)")
    var requestBurst: Int?

    @Option(help: "Broadcast ring size in bytes, a power of two. (env TICKERHUB_RING_BYTES)")
    var ringBytes: Int?

    @Option(
        help:
            """
            Most bytes the hub queues for one connection; past it, updates are conflated to the latest value per\
             symbol. (env TICKERHUB_MAX_BACKLOG_BYTES)
            """
    )
    var maxBacklogBytes: Int?

    @Option(
        help:
            """
            Kernel send buffer per connection (SO_SNDBUF) in bytes; 0 keeps the OS's auto-tuning. (env\
             TICKERHUB_SOCKET_SEND_BUFFER)
            """
    )
    var socketSendBuffer: Int?

    @Option(
        help:
            """
            Seconds a connection's backlog may stay full before it is closed with 4008 \"slow consumer\". (env\
             TICKERHUB_SLOW_CLIENT_TIMEOUT)
            """
    )
    var slowClientTimeout: Double?

    @Option(
        help:
            """
            Longest a loop may defer fan-out after new ticks, in milliseconds, so more of them share each socket\
             write; it adapts to load (the previous fan-out's duration, up to this). 0 fans out at once. (env\
             TICKERHUB_MAX_DRAIN_DELAY_MS)
            """
    )
    var maxDrainDelayMs: Double?

    @Option(
        help:
            """
            Longest one fan-out drain holds its event loop before the loop serves its sockets again, in\
             milliseconds. (env TICKERHUB_DRAIN_BUDGET_MS)
            """
    )
    var drainBudgetMs: Double?

    @Option(
        help:
            """
            A loop that reaches a tick later than this after it was published, in milliseconds, conflates its\
             backlog to the latest value per subscription instead of sending it (overload shedding, counted as\
             dropped). (env TICKERHUB_MAX_FANOUT_LAG_MS)
            """
    )
    var maxFanoutLagMs: Double?

    @Option(
        help:
            """
            What carries subscribers after the handshake: owned (the hub's own epoll loops; not with TLS or\
             NATS), nio (a NIO channel each), or auto (owned where it can, else nio). (env TICKERHUB_TRANSPORT)
            """
    )
    var transport: String?

    @Option(
        help:
            """
            permessage-deflate: off, shared (compress each message once for all), dedicated (a compressor per\
             connection). (env TICKERHUB_DEFLATE)
            """
    )
    var deflate: String?

    @Option(help: "Messages with a smaller payload, in bytes, are sent uncompressed. (env TICKERHUB_DEFLATE_THRESHOLD)")
    var deflateThreshold: Int?

    @Option(
        help: "Offer the tickerhub.v1.zstd subprotocol (zstd with a shared dictionary): on or off. (env TICKERHUB_ZSTD)"
    )
    var zstd: String?

    @Option(
        help:
            """
            The token a publisher must present to open /ingest (Authorization: Bearer, or ?token=). Required\
             with --feed ingest when --host is not a loopback address. (env TICKERHUB_INGEST_TOKEN)
            """
    )
    var ingestToken: String?

    @Option(
        help:
            """
            Turn auth on with this HMAC secret (HS256, at least 32 bytes): every WebSocket then needs an access\
             token (a JWT). Prefer the environment variable: arguments show in ps. (env TICKERHUB_AUTH_SECRET)
            """
    )
    var authSecret: String?

    @Option(
        help:
            """
            Turn auth on with this public key (a PEM file; RSA for RS256, P-256 for ES256): every WebSocket then\
             needs an access token (a JWT) signed by its private key. (env TICKERHUB_AUTH_PUBLIC_KEY)
            """
    )
    var authPublicKey: String?

    @Option(
        help:
            "Serve TLS (wss://, https://) with this certificate chain (PEM); needs --tls-key. (env TICKERHUB_TLS_CERT)")
    var tlsCert: String?

    @Option(help: "The private key (PEM) of --tls-cert. (env TICKERHUB_TLS_KEY)")
    var tlsKey: String?

    @Option(
        help:
            """
            New symbols one publisher connection may add; past it the publisher is closed with 1008. (env\
             TICKERHUB_MAX_NEW_SYMBOLS_PER_PUBLISHER)
            """
    )
    var maxNewSymbolsPerPublisher: Int?

    @Option(
        help:
            """
            A web page origin (scheme://host[:port]) allowed to open /ws and /ingest; repeat for several.\
             Handshakes from other origins get 403; without any, every origin is allowed. (env\
             TICKERHUB_ALLOWED_ORIGIN, comma-separated)
            """
    )
    var allowedOrigin: [String] = []

    @Option(help: "With auth on, a token's \"aud\" claim must name this audience. (env TICKERHUB_AUTH_AUDIENCE)")
    var authAudience: String?

    @Option(help: "With auth on, a token's \"iss\" claim must be this issuer. (env TICKERHUB_AUTH_ISSUER)")
    var authIssuer: String?

    @Option(
        help:
            """
            A load balancer in front of the hub (an address or a CIDR prefix); repeat for several. Connections\
             from it are counted for the client its X-Forwarded-For names. (env TICKERHUB_TRUSTED_PROXY,\
             comma-separated)
            """
    )
    var trustedProxy: [String] = []

    @Option(
        help:
            """
            Move /metrics, /stats, /ops and /ingest to a listener of their own on this port; the public one then\
             serves market data only. (env TICKERHUB_ADMIN_PORT)
            """
    )
    var adminPort: Int?

    @Option(help: "Address of the admin listener. (env TICKERHUB_ADMIN_HOST)")
    var adminHost: String?

    @Option(
        help:
            """
            Also listen on this port with a WebSocket echo server, for conformance tests (Autobahn). (env\
             TICKERHUB_ECHO_PORT)
            """
    )
    var echoPort: Int?

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical. (env TICKERHUB_LOG_LEVEL)")
    var logLevel: String?
}
