import FeedModel
import FuzzSupport
import NIOCore

/// One input from libFuzzer: one `/ingest` batch. Decoding must return or throw (no trap, no
/// sanitizer report), and a batch it accepts must survive a round trip: encoding the ticks again
/// and decoding that gives the same ticks.
@main
enum FuzzTickBatch {
    static func main() { FuzzerDriver.run(fuzzOne) }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let buffer = ByteBuffer(bytes: UnsafeBufferPointer(start: data, count: size))
    guard let ticks = try? BinaryTickCodec.decodeBatch(buffer) else { return 0 }
    precondition(ticks.count <= BinaryTickCodec.maxRecordsPerBatch)
    var again = ByteBuffer()
    BinaryTickCodec.encodeBatch(ticks, into: &again)
    guard let decoded = try? BinaryTickCodec.decodeBatch(again) else { preconditionFailure("a re-encoded batch did not decode") }
    precondition(decoded == ticks, "the round trip changed the ticks")
    return 0
}
