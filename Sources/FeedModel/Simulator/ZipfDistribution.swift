/// Index `i` of `0..<count` with probability proportional to `1 / (i + 1)^exponent`: a few items are
/// popular, most are not. The simulator uses it for which instrument trades, feedsim for which
/// symbols a client follows.
public struct ZipfDistribution: Sendable {
    private let cumulativeWeights: [Double]

    public init(count: Int, exponent: Double) {
        precondition(count > 0, "a distribution needs at least one item")
        var total = 0.0
        cumulativeWeights = (0..<count).map { index in
            total += 1 / _exp(exponent * _log(Double(index + 1)))
            return total
        }
    }

    public func sample(using generator: inout SeededGenerator) -> Int {
        let target = generator.nextUnit() * cumulativeWeights[cumulativeWeights.count - 1]
        var low = 0
        var high = cumulativeWeights.count - 1
        while low < high {
            let middle = (low + high) / 2
            if cumulativeWeights[middle] <= target { low = middle + 1 } else { high = middle }
        }
        return low
    }
}
