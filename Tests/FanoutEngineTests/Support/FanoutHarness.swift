@testable import FanoutEngine
import FeedModel
import Foundation
import NIOCore
import NIOEmbedded
import Testing

/// The hub's engine (`BroadcastEngine`: publisher → ring → loop consumer) on one embedded event
/// loop, with recording sinks. The engine's parts read as the harness's own (`harness.publisher`).
@dynamicMemberLookup
struct FanoutHarness {
    let loop = EmbeddedEventLoop()
    let engine: BroadcastEngine
    subscript<Part>(dynamicMember part: KeyPath<BroadcastEngine, Part>) -> Part { engine[keyPath: part] }
    /// The loop's one consumer.
    let fanout: LoopFanout
    let aapl: SymbolID
    let msft: SymbolID

    /// With `manualDrains`, a published batch only signals (`drainSignal` counts it) and the test
    /// drains when it wants, with the loop's clock where it wants it.
    let drainSignal: CountingDrainSignal?

    /// With `drainingInline`, the consumer is drained in the publishing task, as the hub's loop 0 is.
    /// With `demandDriven`, as in the hub: channel, book and bar frames are built only while someone
    /// follows their kind (`ChannelDemand`); without, always.
    init(
        ringBytes: Int = 1 << 16, pacing: DrainPacing = .immediate, limits: DrainLimits = DrainLimits(),
        manualDrains: Bool = false,
        drainingInline: Bool = false, historyDepth: Int = 0, demandDriven: Bool = false
    ) {
        var configuration = EngineConfiguration()
        (configuration.ringBytes, configuration.pacing, configuration.drain) = (ringBytes, pacing, limits)
        configuration.historyDepth = historyDepth
        let drainSignal = manualDrains ? CountingDrainSignal() : nil
        self.drainSignal = drainSignal
        engine = BroadcastEngine(
            configuration: configuration, loops: [loop], publisherLoop: loop, drainSignal: { _ in drainSignal },
            demandDriven: demandDriven, drainingInline: drainingInline)
        fanout = engine.fanouts[0]
        aapl = engine.directory.register(Symbol(stringLiteral: "AAPL"))!
        msft = engine.directory.register(Symbol(stringLiteral: "MSFT"))!
        loop.run()
    }

    /// Registers `count` more symbols (S0, S1, ...).
    func register(count: Int) -> [SymbolID] {
        (0..<count).map { engine.directory.register(Symbol("S\($0)")!)! }
    }

    func update(_ id: SymbolID, _ bid: String) -> FeedUpdate {
        FeedUpdate(
            symbolID: id, symbol: engine.directory.symbol(for: id)!, timestamp: .now(),
            body: .quote(Quote(bid: Price(bid)!, ask: Price(bid)!, bidSize: 1, askSize: 1)))
    }

    /// Subscribes to `ids` by their directory names; returns the snapshots to send first.
    @discardableResult
    func subscribe(_ subscriber: Subscriber, to ids: [SymbolID], every interval: UpdateInterval? = nil)
        -> [SymbolSnapshot]
    {
        fanout.subscribe(
            subscriber, to: ids, symbols: ids.map { engine.directory.symbol(for: $0)! }, updateInterval: interval)
    }

    /// A new subscriber to `ids`, with the sink that records what it is sent.
    func subscribedClient(to ids: [SymbolID], every interval: UpdateInterval? = nil) -> (
        subscriber: Subscriber, sink: RecordingSink
    ) {
        let sink = RecordingSink()
        let subscriber = Subscriber(sink: sink)
        subscribe(subscriber, to: ids, every: interval)
        return (subscriber, sink)
    }

    func publish(_ updates: [FeedUpdate]) {
        engine.publisher.publishOnLoop(updates)
        loop.run()  // the consumer's drain
    }
}

/// A drain signal that only counts: the test decides when the signalled drain runs.
final class CountingDrainSignal: DrainSignal, @unchecked Sendable {
    // @unchecked: tests use it from one thread.
    private(set) var signals = 0
    func signal() { signals += 1 }
}
