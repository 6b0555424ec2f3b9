// swift-tools-version:6.1
import PackageDescription

// A peer for the end-to-end benchmark: the fan-out a Swift developer would write with Hummingbird.
// Its own package so the main build never pulls Hummingbird in; Benchmarks/e2e builds it on demand.
let package = Package(
    name: "hummingbird-hub",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket", from: "2.8.1"),
    ],
    targets: [
        .executableTarget(
            name: "HummingbirdHub",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
            ]
        )
    ],
    swiftLanguageModes: [.v6]
)
