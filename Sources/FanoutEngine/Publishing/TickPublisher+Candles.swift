import FeedModel
import NIOCore

/// The bars path: the candle store's changes to the ring, and the clock that closes bars on time.
extension TickPublisher {
    /// Closes the bars whose interval ended (`CandleStore.closeGrace` ago) and sends each once more,
    /// `closed`. The candle clock calls it; tests call it with their own time.
    public func closeEndedBars(now: Timestamp) {
        eventLoop.assertInEventLoop()
        let changes = candles.closeEnded(now: now)
        guard !changes.isEmpty else { return }
        lastValues.applyCandles(changes.map { ($0.stream, $0.latest) })
        transmitCandles(changes, publishedAt: eventLoop.now.uptimeNanoseconds)
        publishCompressionTally()
        wakeConsumers()
    }

    func startCandleClock() {
        guard candleClock == nil else { return }
        candleClock = eventLoop.scheduleRepeatedTask(initialDelay: .milliseconds(250), delay: .milliseconds(250)) {
            [weak self] _ in
            self?.closeEndedBars(now: .now())
        }
    }

    /// The changes' `candle` frames, for the intervals someone follows (`ChannelDemand`; asked after
    /// the cache was written, as the callers do).
    func transmitCandles(_ changes: [CandleStore.Change], publishedAt: UInt64) {
        guard !changes.isEmpty else { return }
        let wanted = CandleInterval.allCases.map { demand?.wants(.candles($0)) ?? true }
        var built: UInt64 = 0
        for change in changes where wanted[CandleInterval.allCases.firstIndex(of: change.update.interval) ?? 0] {
            transmit(
                .candle(change.update),
                RecordHeader(symbolID: change.stream.rawValue, seq: change.update.seq, publishedAt: publishedAt))
            built += 1
        }
        counters.framesEncoded.wrappingIncrement(by: built, ordering: .relaxed)
    }
}
