/// What one simulated dashboard knows across its connections: each symbol's last seq, and the epoch
/// those seqs belong to. A reconnect keeps it, so the first snapshot on the new node shows what was
/// missed meanwhile; a new epoch clears it (the numbering restarted: not a gap). Confined to a loop.
final class SeqBook {
    /// Last seq per symbol (by symbol hash).
    var lastSeq: [UInt64: UInt64] = [:]
    /// Hash of the `welcome`'s epoch the seqs belong to.
    var epoch: UInt64?
}
