import FeedModel

/// Which symbols each swarm client subscribes to. Deterministic for a seed.
///
/// - `zipf`: `perClient` distinct symbols drawn with a Zipf skew over the hub's list order (the hub
///   lists its busiest names first), so a few symbols are hot and fan out to many clients, as real
///   dashboards do.
/// - `even`: client n takes symbols (n * perClient + j) mod count, j < perClient, so every symbol has
///   the same number of subscribers and the offered load is rate * clients * perClient / count
///   whatever the feed's skew: the shape the end-to-end matrix uses (as `wsload` does).
struct SubscriptionPlan {
    enum Spread: String, Sendable, CaseIterable {
        case zipf, even
    }

    let symbols: [String]
    let perClient: Int
    private let spread: Spread
    private var generator: SeededGenerator
    private let popularity: ZipfDistribution
    /// Clients planned so far.
    private var planned = 0

    init(symbols: [String], perClient: Int, spread: Spread = .zipf, skew: Double, seed: UInt64) {
        self.symbols = symbols
        self.perClient = min(perClient, symbols.count)
        self.spread = spread
        generator = SeededGenerator(seed: seed)
        popularity = ZipfDistribution(count: symbols.count, exponent: skew)
    }

    mutating func next() -> [String] {
        defer { planned += 1 }
        switch spread {
        case .even:
            return (0..<perClient).map { symbols[(planned * perClient + $0) % symbols.count] }
        case .zipf:
            var chosen = Set<Int>()
            var order: [Int] = []
            while order.count < perClient {
                let index = popularity.sample(using: &generator)
                if chosen.insert(index).inserted { order.append(index) }
            }
            return order.map { symbols[$0] }
        }
    }
}
