// swift-tools-version:6.1
import Foundation
import PackageDescription

// The modules, and what each is for (dependencies point one way: TickerHub -> FanoutEngine -> FeedModel):
// - FeedModel: the market-data values (symbols, prices, quotes, trades, books, bars), the wire
//   codecs (JSON, binary), the protocol's messages and close codes, and the market simulator.
// - FanoutEngine: the broadcast ring, the publisher, the last-value cache and the per-loop fan-out
//   (conflation, drops, compression once per message).
// - EpollTransport (Linux): an epoll event loop that is a NIO EventLoop, and the one place bytes are
//   handed to a socket; it knows nothing of WebSocket or the engine. The subscribers' transport.
// - AccessControl: what a token's claims grant (plain values, no JWT library, so they can be
//   fuzzed); used by TickerHub only.
// - NATSClient: a small NATS client (none is in the package mirror); NATSTicks: ticks, books and
//   instrument details on NATS subjects, for NATS-fed hubs and publishers.
// - TickerHub (the `tickerhub` server): HTTP, WebSocket sessions, feeds, security, the dashboard.
// - feedsim (the load tool): publishes simulated feeds and runs subscriber swarms; it uses FeedModel
//   for the wire formats and the simulator, and FanoutEngine's permessage-deflate inflater.
// - CZstd, CMalloc, CEpoll: the system C libraries (zstd, glibc's malloc statistics, epoll).
// - The test targets, one per module: FeedModelTests, FanoutEngineTests, EpollTransportTests,
//   NATSClientTests, NATSTicksTests, TickerHubTests.
let package = Package(
    name: "TickerHub",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "tickerhub", targets: ["TickerHub"]),
        .executable(name: "feedsim", targets: ["feedsim"]),
        .library(name: "FeedModel", targets: ["FeedModel"]),
        .library(name: "FanoutEngine", targets: ["FanoutEngine"]),
        .library(name: "AccessControl", targets: ["AccessControl"]),
        .library(name: "EpollTransport", targets: ["EpollTransport"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-atomics", from: "1.3.0"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/adam-fowler/compress-nio", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        // TLS (wss://, https://) for the hub and feedsim, and JWT verification for the hub's access tokens.
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/vapor/jwt-kit", from: "5.8.0"),
        // The hub's config file (YAML or JSON) and environment variables, under its flags.
        .package(url: "https://github.com/apple/swift-configuration", from: "1.4.0", traits: [.defaults, "YAML"]),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        // libzstd from Debian (apt libzstd-dev), for the zstd shared-dictionary mode.
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        // glibc's malloc.h (malloc_trim), for giving start-up memory back; part of libc, nothing to link.
        .systemLibrary(name: "CMalloc"),
        // Linux calls the Glibc module lacks (epoll, eventfd, accept4), for the owned transport; part of libc.
        .systemLibrary(name: "CEpoll"),
        .target(
            name: "FeedModel",
            dependencies: [.product(name: "NIOCore", package: "swift-nio")]
        ),
        .target(
            name: "FanoutEngine",
            dependencies: [
                "FeedModel",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "CompressNIO", package: "compress-nio"),
                "CZstd",
            ]
        ),
        // The Linux transport that owns its sockets (epoll, flat connection slots, send straight
        // from the fan-out's shared frames): the subscribers' path from a ready frame to the kernel.
        .target(
            name: "EpollTransport",
            dependencies: [
                "CEpoll",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "HeapModule", package: "swift-collections"),
            ]
        ),
        // A small NATS client (the mirror has none): the hub's cluster feed; tested against a real nats-server.
        .target(
            name: "AccessControl",
            dependencies: [.product(name: "NIOCore", package: "swift-nio")]
        ),
        .target(
            name: "NATSClient",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        // The tick contract on NATS (subjects, encoding, epoch header, warm-start answers), shared by
        // the hub and feedsim.
        .target(
            name: "NATSTicks",
            dependencies: ["FeedModel", "NATSClient", .product(name: "NIOCore", package: "swift-nio")]
        ),
        .executableTarget(
            name: "TickerHub",
            dependencies: [
                "AccessControl",
                "EpollTransport",
                "FeedModel",
                "FanoutEngine",
                "NATSClient",
                "NATSTicks",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Yams", package: "Yams"),
                "CMalloc",
            ],
            // The dashboard and operator pages, compiled into the binary (see StaticAssets.swift).
            resources: [.embedInCode("Dashboard/Assets")]
        ),
        .executableTarget(
            name: "feedsim",
            dependencies: [
                "FeedModel",
                "FanoutEngine",
                "NATSClient",
                "NATSTicks",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        .testTarget(name: "FeedModelTests", dependencies: ["FeedModel"]),
        .testTarget(
            name: "EpollTransportTests",
            dependencies: [
                "CEpoll",
                "EpollTransport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Atomics", package: "swift-atomics"),
            ]
        ),
        .testTarget(
            name: "NATSClientTests",
            dependencies: [
                "NATSClient",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "NATSTicksTests",
            dependencies: ["NATSTicks", "NATSClient", "FeedModel", .product(name: "NIOCore", package: "swift-nio")]
        ),
        .testTarget(
            name: "FanoutEngineTests",
            dependencies: [
                "FanoutEngine", "FeedModel",
                .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "CompressNIO", package: "compress-nio"),
                "CZstd",
            ]
        ),
        .testTarget(
            name: "TickerHubTests",
            dependencies: [
                "TickerHub", "FeedModel", "FanoutEngine", "AccessControl",
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "JWTKit", package: "jwt-kit"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)

// The ThreadSanitizer run (`make tsan-tests`) checks the engine's lock-free code and needs only the
// engine: with TICKERHUB_ENGINE_ONLY set, the hub and the load tool are left out of that build, and
// with them what only they use, the TLS and JWT packages (two copies of BoringSSL: minutes of C).
if ProcessInfo.processInfo.environment["TICKERHUB_ENGINE_ONLY"] != nil {
    let engineOnly: Set<String> = [
        "CZstd", "CEpoll", "FeedModel", "FanoutEngine", "AccessControl", "EpollTransport", "FeedModelTests",
        "FanoutEngineTests", "EpollTransportTests",
    ]
    package.targets.removeAll { !engineOnly.contains($0.name) }
    package.products.removeAll { !["FeedModel", "FanoutEngine", "AccessControl", "EpollTransport"].contains($0.name) }
}
