import FanoutEngine
import FeedModel

/// Trains the `tickerhub.v1.zstd` dictionary at start-up from what the hub will send: simulated
/// quote and trade updates over the given instruments (`FeedSources.dictionaryInstruments`), plus
/// the snapshot, conflated and control messages around them. Deterministic: the samples depend only
/// on the instruments and the seed (their timestamps too: a fixed, plausible epoch, not the clock),
/// so hubs started alike, on any node at any time, publish the same dictionary id.
enum ZstdDictionaryTraining {
    static let subprotocol = "tickerhub.v1.zstd"

    /// The samples' first timestamp (2025-01-01): its leading digits are what every message's `ts`
    /// shares for decades, which is what the dictionary should learn.
    static let sampleEpochNanos: UInt64 = 1_735_689_600_000_000_000

    static func train(instruments: [Instrument], seed: UInt64, samples: Int = 4_000) throws -> ZstdDictionary {
        var simulator = MarketSimulator(instruments: instruments, seed: seed)
        var states = instruments.map { SymbolSnapshot(symbol: $0.symbol) }
        var nanos = sampleEpochNanos
        var messages: [[UInt8]] = []
        messages.reserveCapacity(samples + samples / 5)
        for n in 0..<samples {
            let event = simulator.next()
            nanos += 250_000
            var snapshot = states[event.instrumentIndex]
            let tick = Tick(
                symbol: snapshot.symbol, seq: snapshot.seq + 1, timestamp: Timestamp(nanosecondsSinceEpoch: nanos),
                body: event.body)
            snapshot.apply(tick)
            states[event.instrumentIndex] = snapshot
            messages.append(Array(ServerMessage.update(tick).jsonText.utf8))
            if n % 10 == 0 { messages.append(Array(ServerMessage.snapshot(snapshot).jsonText.utf8)) }
            if n % 10 == 5 { messages.append(Array(ServerMessage.conflated(snapshot).jsonText.utf8)) }
            if n % 50 == 0 {
                messages.append(
                    Array(ServerMessage.heartbeat(timestamp: Timestamp(nanosecondsSinceEpoch: nanos)).jsonText.utf8))
                messages.append(
                    Array(
                        ServerMessage.ack(id: Int64(n), op: .subscribe, symbols: [snapshot.symbol.name]).jsonText.utf8))
            }
        }
        return try ZstdDictionary(trainingOn: messages)
    }
}
