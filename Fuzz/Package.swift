// swift-tools-version:6.1
import PackageDescription

// Coverage-guided fuzzing (libFuzzer, with AddressSanitizer) of the parsers that take untrusted bytes
// from the network: a subscriber's requests (`ClientMessage.parse`) and a publisher's tick batches
// (`BinaryTickCodec.decodeBatch`). Build and run with `make fuzz` (FUZZ_SECONDS per target); each
// target is an executable whose `main` is libFuzzer's. See SECURITY.md.
let package = Package(
    name: "TickerHubFuzz",
    dependencies: [.package(path: "..")],
    targets: [
        .executableTarget(
            name: "FuzzClientMessage",
            dependencies: [.product(name: "FeedModel", package: "TickerHub")]
        ),
        .executableTarget(
            name: "FuzzTickBatch",
            dependencies: [.product(name: "FeedModel", package: "TickerHub")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
