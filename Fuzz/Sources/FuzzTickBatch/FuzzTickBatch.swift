import FeedModel
import FuzzSupport
import NIOCore

/// One input from libFuzzer: one `/ingest` batch, ticks and book records. Decoding must return or
/// throw (no trap, no sanitizer report), and a batch it accepts must survive a round trip: encoding
/// its records again and decoding that gives the same records.
@main
enum FuzzTickBatch {
    static func main() { FuzzerDriver.run(fuzzOne) }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let buffer = ByteBuffer(bytes: UnsafeBufferPointer(start: data, count: size))
    guard let batch = try? BinaryTickCodec.decodeFeedBatch(buffer) else { return 0 }
    precondition(batch.count <= BinaryTickCodec.maxRecordsPerBatch)
    for book in batch.books {
        precondition(
            book.change.bids.count <= BinaryTickCodec.maxLevelsPerSide
                && book.change.asks.count <= BinaryTickCodec.maxLevelsPerSide)
        precondition((book.change.bids + book.change.asks).allSatisfy { $0.size >= 0 }, "a negative size accepted")
    }
    var again = ByteBuffer()
    BinaryTickCodec.encodeBatch(batch.ticks, books: batch.books, into: &again)
    guard let decoded = try? BinaryTickCodec.decodeFeedBatch(again) else {
        preconditionFailure("a re-encoded batch did not decode")
    }
    precondition(decoded == batch, "the round trip changed the records")
    return 0
}
