import FeedModel

/// Which symbols each swarm client subscribes to: `perClient` distinct symbols drawn with a Zipf skew
/// over the hub's list order (the hub lists its busiest names first), so a few symbols are hot and
/// fan out to many clients, as real dashboards do. Deterministic for a seed.
struct SubscriptionPlan {
    let symbols: [String]
    let perClient: Int
    private var generator: SeededGenerator
    private let popularity: ZipfDistribution

    init(symbols: [String], perClient: Int, skew: Double, seed: UInt64) {
        self.symbols = symbols
        self.perClient = min(perClient, symbols.count)
        generator = SeededGenerator(seed: seed)
        popularity = ZipfDistribution(count: symbols.count, exponent: skew)
    }

    mutating func next() -> [String] {
        var chosen = Set<Int>()
        var order: [Int] = []
        while order.count < perClient {
            let index = popularity.sample(using: &generator)
            if chosen.insert(index).inserted { order.append(index) }
        }
        return order.map { symbols[$0] }
    }
}
