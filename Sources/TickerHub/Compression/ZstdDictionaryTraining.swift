import FanoutEngine
import FeedModel

/// Trains the `tickerhub.v1.zstd` dictionary at start-up from what the hub will send: simulated
/// quote and trade updates over the hub's universe (or the default one, for an ingest hub), plus the
/// snapshot, conflated and control messages around them. Deterministic for a given configuration,
/// so hubs started alike publish the same dictionary id.
enum ZstdDictionaryTraining {
    static let subprotocol = "tickerhub.v1.zstd"

    static func train(for configuration: HubConfiguration, samples: Int = 4_000) throws -> ZstdDictionary {
        let instruments: [Instrument] = switch (configuration.feed, configuration.symbols) {
        case (.sim, .names(let names)): SymbolUniverse.instruments(named: names, seed: configuration.seed)
        case (.sim, .count(let count)): SymbolUniverse.instruments(count: count, seed: configuration.seed)
        case (.ingest, _): SymbolUniverse.instruments(count: 500, seed: configuration.seed)
        }
        var simulator = MarketSimulator(instruments: instruments, seed: configuration.seed)
        var states = instruments.map { SymbolSnapshot(symbol: $0.symbol) }
        // Plausible, recent nanosecond timestamps: their leading digits repeat in every message.
        var nanos = UInt64(Timestamp.now().nanosecondsSinceEpoch)
        var messages: [[UInt8]] = []
        messages.reserveCapacity(samples + samples / 5)
        for n in 0..<samples {
            let event = simulator.next()
            nanos += 250_000
            var snapshot = states[event.instrumentIndex]
            let tick = Tick(symbol: snapshot.symbol, seq: snapshot.seq + 1, timestamp: Timestamp(nanosecondsSinceEpoch: nanos), body: event.body)
            snapshot.apply(tick)
            states[event.instrumentIndex] = snapshot
            messages.append(Array(ServerMessage.update(tick).jsonText.utf8))
            if n % 10 == 0 { messages.append(Array(ServerMessage.snapshot(snapshot).jsonText.utf8)) }
            if n % 10 == 5 { messages.append(Array(ServerMessage.conflated(snapshot).jsonText.utf8)) }
            if n % 50 == 0 {
                messages.append(Array(ServerMessage.heartbeat(timestamp: Timestamp(nanosecondsSinceEpoch: nanos)).jsonText.utf8))
                messages.append(Array(ServerMessage.ack(id: Int64(n), op: "subscribe", symbols: [snapshot.symbol.name]).jsonText.utf8))
            }
        }
        return try ZstdDictionary(trainingOn: messages)
    }
}
