/// The fixed 32-byte header in front of every record.
///
/// | word | bits 0–31                         | bits 32–63          |
/// |-----:|-----------------------------------|---------------------|
/// | 0    | record length incl. header        | type (0 padding, 1 message) |
/// | 1    | symbol id                         | (zero)              |
/// | 2    | seq (64 bits)                     |                     |
/// | 3    | published at: monotonic nanoseconds (`NIODeadline.uptimeNanoseconds`) |  |
public struct RecordHeader: Sendable, Equatable {
    public static let size = 32
    static let paddingType: UInt32 = 0
    static let messageType: UInt32 = 1

    public var symbolID: UInt32
    public var seq: UInt64
    /// When the publisher wrote the record, on the monotonic clock. A consumer that reaches a record
    /// much later than this is overloaded, and conflates instead of delivering it (`LoopFanout`).
    public var publishedAt: UInt64

    public init(symbolID: UInt32, seq: UInt64, publishedAt: UInt64 = 0) {
        self.symbolID = symbolID
        self.seq = seq
        self.publishedAt = publishedAt
    }
}
