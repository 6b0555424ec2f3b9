import ArgumentParser
import FeedModel
import Foundation
import NIOCore

/// `feedsim ticks`: writes the simulated market's ticks, in order, as a tick script that the
/// benchmark's peer servers replay (Benchmarks/peers). The simulator is the one `tickerhub` embeds,
/// with the same universe and seed, so every server in a comparison offers its clients the same
/// ticks: the same symbols, busiest first, the same prices, and byte-identical update messages.
///
/// The format is text, one record per line, so that a peer in any language reads it in a few lines:
///
///     symbols AAPL MSFT NVDA ...
///     quote 0 "bid":"189.2200","ask":"189.2300","bidSize":300,"askSize":500
///     trade 3 "price":"55.1000","size":200
///
/// The first line names the symbols (index order). One `quote` line per symbol follows, in order:
/// the opening quotes (seq 1). Then the ticks, each with its symbol's index and the update's fields
/// after `"ts"`. A server sends `{"type":T,"symbol":S,"seq":N,"ts":NS,` + fields + `}`, exactly
/// what `tickerhub` sends, and starts again from the first tick when it reaches the end.
struct TicksCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ticks",
        abstract: "Write the simulated market's ticks as a script for the benchmark's peer servers."
    )

    @Option(help: "Number of simulated symbols (as tickerhub --symbols).") var symbols = 500
    @Option(help: "Seed of the simulated market (as tickerhub --seed).") var seed: UInt64 = 42
    @Option(help: "Ticks after the opening quotes.") var count = 65_536
    @Option(help: "File to write (default: standard output).") var out: String?

    func validate() throws {
        guard symbols >= 1, count >= 1 else { throw ValidationError("--symbols and --count must be positive") }
    }

    func run() throws {
        var simulator = MarketSimulator(instruments: SymbolUniverse.instruments(count: symbols, seed: seed), seed: seed)
        var text = ByteBuffer()
        text.writeString("symbols " + simulator.instruments.map(\.symbol.name).joined(separator: " ") + "\n")
        for (index, quote) in simulator.currentQuotes.enumerated() {
            Self.write(index, .quote(quote), into: &text)
        }
        for _ in 0..<count {
            let tick = simulator.next()
            Self.write(tick.instrumentIndex, tick.body, into: &text)
        }
        let bytes = Data(text.readableBytesView)
        if let out {
            try bytes.write(to: URL(fileURLWithPath: out))
        } else {
            FileHandle.standardOutput.write(bytes)
        }
    }

    static func write(_ index: Int, _ body: TickBody, into text: inout ByteBuffer) {
        text.writeStaticString(body.typeName)
        text.writeString(" \(index) ")
        var json = JSONWriter(buffer: text)
        json.tickBodyFields(body)
        text = json.buffer
        text.writeString("\n")
    }
}
