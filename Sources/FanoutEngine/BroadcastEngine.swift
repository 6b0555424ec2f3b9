import FeedModel
import NIOCore

/// The engine's parts, wired together the one way the hub, the tests and the benchmarks all run
/// them: symbol directory, last-value cache, ring, publisher and one `LoopFanout` per event loop,
/// attached to the publisher.
///
/// The hub adds only what is about its sockets (each loop's drain signal, its compression
/// dictionary); a test or a benchmark that builds a `BroadcastEngine` runs the hub's wiring, not a
/// copy of it.
public final class BroadcastEngine: Sendable {
    public let directory: SymbolDirectory
    public let lastValues: LastValueCache
    public let counters: FanoutCounters
    public let compression: SharedCompression
    public let ring: BroadcastBuffer
    public let publisher: TickPublisher
    /// Counts who follows which kind of stream, so the publisher builds channel, book and bar frames
    /// only while someone follows them. Nil: they are always built (tests that check the frames).
    public let demand: ChannelDemand?
    /// One consumer per loop, in the order of the loops given.
    public let fanouts: [LoopFanout]

    /// The numbering of the seqs: new at every start, as the publisher numbers from 1, or a
    /// numbering feed's (NATS), which the publisher adopts from its messages.
    public var epoch: FeedEpoch { publisher.epoch }

    /// - Parameters:
    ///   - loops: the loops that carry subscribers; each gets one consumer.
    ///   - publisherLoop: the ring's single writer; the hub's is its first subscriber loop.
    ///   - drainSignal: how each loop is told to drain (nil: a task on the loop; see `LoopFanout`).
    ///   - demandDriven: as the hub runs (true), or building every kind's frames always (false).
    ///   - drainingInline: whether the consumer on the publisher's own loop drains in the
    ///     publishing task (the hub's way) or is signalled like the others.
    public init(
        configuration: EngineConfiguration, loops: [any EventLoop], publisherLoop: any EventLoop,
        compression: SharedCompression? = nil, drainSignal: (any EventLoop) -> (any DrainSignal)? = { _ in nil },
        demandDriven: Bool = true, drainingInline: Bool = true
    ) {
        let directory = SymbolDirectory()
        let lastValues = LastValueCache(historyDepth: configuration.historyDepth)
        let counters = FanoutCounters()
        let compression = compression ?? SharedCompression(deflateThresholdBytes: configuration.deflateThresholdBytes)
        let ring = BroadcastBuffer(capacity: configuration.ringBytes)
        let demand = demandDriven ? ChannelDemand(kinds: { directory.kinds(of: $0) }) : nil
        let publisher = TickPublisher(
            eventLoop: publisherLoop, buffer: ring, directory: directory, lastValues: lastValues,
            counters: counters, compression: compression, demand: demand)
        let fanouts = loops.map { loop in
            LoopFanout(
                eventLoop: loop, buffer: ring, lastValues: lastValues, counters: counters, compression: compression,
                limits: configuration.drain, pacing: configuration.pacing, drainSignal: drainSignal(loop),
                demand: demand)
        }
        publisher.attach(fanouts, drainingInline: drainingInline)
        (self.directory, self.lastValues, self.counters, self.compression) = (
            directory, lastValues, counters, compression
        )
        (self.ring, self.publisher, self.demand, self.fanouts) = (ring, publisher, demand, fanouts)
    }
}
