/// Where a reconnecting client left off: per symbol, the seq of the last update it holds, and the
/// epoch those seqs belong to (`welcome`'s). Nil epoch: the client did not say, and the hub takes
/// the seqs as its own.
public struct ResumePoint: Sendable, Equatable {
    public var epoch: FeedEpoch?
    public var lastSeqs: [String: UInt64]

    public init(epoch: FeedEpoch?, lastSeqs: [String: UInt64]) {
        self.epoch = epoch
        self.lastSeqs = lastSeqs
    }
}
