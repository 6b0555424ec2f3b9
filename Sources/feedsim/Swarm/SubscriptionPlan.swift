import FeedModel

/// Which symbols each swarm client subscribes to: `perClient` distinct symbols drawn with a Zipf skew
/// over the hub's list order (the hub lists its busiest names first), so a few symbols are hot and
/// fan out to many clients, as real dashboards do. Deterministic for a seed.
struct SubscriptionPlan {
    let symbols: [String]
    let perClient: Int
    let skew: Double
    private var generator: SeededGenerator
    private let cumulative: [Double]

    init(symbols: [String], perClient: Int, skew: Double, seed: UInt64) {
        precondition(!symbols.isEmpty)
        self.symbols = symbols
        self.perClient = min(perClient, symbols.count)
        self.skew = skew
        generator = SeededGenerator(seed: seed)
        var total = 0.0
        cumulative = symbols.indices.map { index in
            total += 1 / pow(Double(index + 1), skew)
            return total
        }
    }

    mutating func next() -> [String] {
        var chosen = Set<Int>()
        var order: [Int] = []
        while order.count < perClient {
            let target = generator.nextUnit() * cumulative[cumulative.count - 1]
            var low = 0
            var high = cumulative.count - 1
            while low < high {
                let middle = (low + high) / 2
                if cumulative[middle] <= target { low = middle + 1 } else { high = middle }
            }
            if chosen.insert(low).inserted { order.append(low) }
        }
        return order.map { symbols[$0] }
    }
}

#if canImport(Glibc)
import Glibc
#endif
