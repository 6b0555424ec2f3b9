// swift-tools-version:6.1
import PackageDescription

// Coverage-guided fuzzing (libFuzzer, with AddressSanitizer) of what takes untrusted input: the
// parsers of a subscriber's requests (`ClientMessage.parse`) and a publisher's tick batches
// (`BinaryTickCodec.decodeBatch`), the engine's state under any sequence of what publishers and
// subscribers may do (`FuzzFanoutState`), and a token's claims (`FuzzTokenClaims`). Build and run with `make fuzz`
// (FUZZ_SECONDS per target); each target is an executable that hands itself to libFuzzer's driver (`FuzzerDriver`). See
// SECURITY.md.
let package = Package(
    name: "TickerHubFuzz",
    // `TickerHub` is a link to the repository root, so that the package is called that in every clone.
    dependencies: [
        .package(path: "TickerHub"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.3"),
    ],
    targets: [
        .target(name: "FuzzSupport"),
        .executableTarget(
            name: "FuzzClientMessage",
            dependencies: ["FuzzSupport", .product(name: "FeedModel", package: "TickerHub")]
        ),
        .executableTarget(
            name: "FuzzFanoutState",
            dependencies: [
                "FuzzSupport", .product(name: "FeedModel", package: "TickerHub"),
                .product(name: "FanoutEngine", package: "TickerHub"),
                .product(name: "AccessControl", package: "TickerHub"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOEmbedded", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "FuzzTokenClaims",
            dependencies: [
                "FuzzSupport", .product(name: "AccessControl", package: "TickerHub"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "FuzzTickBatch",
            dependencies: [
                "FuzzSupport", .product(name: "FeedModel", package: "TickerHub"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
