import ServiceLifecycle

/// Runs the hub under swift-service-lifecycle: start, wait for SIGTERM/SIGINT, stop gracefully.
struct HubService: Service {
    let hub: Hub

    func run() async throws {
        try await hub.start()
        try? await gracefulShutdown()
        hub.logger.info("shutting down")
        await hub.stop()
    }
}
