import FeedModel
import NIOCore

/// The `quotes` and `trades` streams: each tick again on its own channel's stream, numbered there
/// (`ChannelDemand` decides whether their frames are built).
extension TickPublisher {
    /// Each tick on its symbol's `quotes` or `trades` stream, with that stream's next seq.
    func channelTicks(of sequenced: [(SymbolID, Tick)]) -> [(SymbolID, Tick)] {
        var result: [(SymbolID, Tick)] = []
        result.reserveCapacity(sequenced.count)
        for (id, tick) in sequenced {
            if id.index >= channelStreams.count {
                channelStreams.append(contentsOf: repeatElement(nil, count: id.index + 1 - channelStreams.count))
            }
            if channelStreams[id.index] == nil { channelStreams[id.index] = directory.channelStreams(of: id) }
            guard let streams = channelStreams[id.index] else { continue }
            let stream = { if case .quote = tick.body { streams[0] } else { streams[1] } }()
            var copy = tick
            copy.seq = numbering.next(stream)
            result.append((stream, copy))
        }
        return result
    }
}
