import ServiceLifecycle

/// Where the hub's ticks come from: the one seam between a feed and the rest of the hub.
///
/// Each source runs as a swift-service-lifecycle service beside the hub (`run` starts it and returns
/// once a graceful shutdown has stopped it) and hands its batches to the engine's `TickPublisher`.
/// Which source a hub runs is decided in one place, `FeedSources.make`; nothing else asks which
/// feed it is, only what this protocol tells.
protocol FeedSource: Service {
    /// The feed's name in `welcome` and in the logs.
    var name: String { get }
    /// Whether publishers may connect on `/ingest` (their ticks are this feed's).
    var acceptsPublishers: Bool { get }
}
