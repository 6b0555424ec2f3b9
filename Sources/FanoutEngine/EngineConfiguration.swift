/// How the fan-out engine is sized and paced, in one value: the hub's configuration holds one
/// (`HubConfiguration.engine`), and tests and benchmarks build their own. Every number the drain
/// and the publisher go by is here, with the reason for its default.
public struct EngineConfiguration: Sendable, Equatable {
    /// Size of the broadcast ring in bytes, a power of two. 8 MiB holds about 60,000 records, over
    /// a second at the heaviest load we measured, so only a loop stalled that long is lapped.
    public var ringBytes = 8 << 20
    /// How long one drain may run, how late a record may be before the loop conflates, and how many
    /// records one drain reads at most (`DrainLimits`).
    public var drain = DrainLimits()
    /// Whether a woken loop drains at once or a little later, so that more ticks share each socket
    /// write (`DrainPacing`). At once by default, which measured best on loopback.
    public var pacing = DrainPacing.immediate
    /// Messages with a smaller payload go uncompressed (see `SharedCompression`): below ~64 bytes
    /// deflate's framing costs more than it saves.
    public var deflateThresholdBytes = 64
    /// Updates kept per symbol for clients that reconnect and recover (`SymbolHistory`); 0 keeps
    /// none. Off by default: it costs memory for every symbol whether anyone recovers or not.
    public var historyDepth = 0

    public init() {}
}
