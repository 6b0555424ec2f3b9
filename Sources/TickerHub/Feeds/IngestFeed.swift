import ServiceLifecycle

/// The feed of publishers connecting on `/ingest` (e.g. `feedsim publish`): each connection's
/// `IngestSession` decodes its batches and hands them to the publisher. Nothing runs here between
/// connections: the service only holds the feed's place in the hub's lifecycle.
struct IngestFeed: FeedSource {
    var name: String { "ingest" }
    var acceptsPublishers: Bool { true }

    func run() async throws {
        try? await gracefulShutdown()
    }
}
