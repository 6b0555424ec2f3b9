import FeedModel

/// Instruments' details: kept in the last-value cache (every `snapshot` carries them), not streamed.
extension TickPublisher {
    /// Sets instruments' details (from any thread): every `snapshot` and `GET /v1/instruments`
    /// carry them from now on. They are not streamed: they change rarely, and a client reads them
    /// with each symbol's snapshot.
    public func publishDetails(_ records: [(SymbolID, InstrumentRecord)]) {
        guard !records.isEmpty else { return }
        eventLoop.execute {
            var entries: [(SymbolID, Symbol, InstrumentDetails)] = []
            for (id, record) in records {
                entries.append((id, record.symbol, record.details))
                // The quotes and trades channels' snapshots carry them too.
                for stream in self.directory.channelStreams(of: id) ?? [] {
                    entries.append((stream, record.symbol, record.details))
                }
            }
            self.lastValues.setDetails(entries)
            for tap in self.detailTaps { tap(records.map(\.1)) }
        }
    }
}
