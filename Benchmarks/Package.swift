// swift-tools-version:6.1
import PackageDescription

// Microbenchmarks, in their own package so `swift test` in the main package never builds them.
// Run with `make bench` (or `swift package benchmark` in this folder).
let package = Package(
    name: "TickerHubBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "TickerHub", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.3"),
    ],
    targets: [
        // glibc's heap count (mallinfo2), which Swift's Glibc module does not export.
        .target(name: "CHeapUsage", path: "Benchmarks/CHeapUsage"),
        .executableTarget(
            name: "FanoutBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "FeedModel", package: "TickerHub"),
                .product(name: "FanoutEngine", package: "TickerHub"),
                .product(name: "EpollTransport", package: "TickerHub"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                "CHeapUsage",
            ],
            path: "Benchmarks/FanoutBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
