import CompressNIO
import CZstd
@testable import FanoutEngine
import FeedModel
import NIOCore
import Testing

@Suite struct CompressionTests {
    let allocator = ByteBufferAllocator()

    @Test func sharedFramesStandAloneAndRoundTrip() throws {
        let deflater = try MessageDeflater(contextTakeover: false)
        let inflater = try MessageInflater(contextTakeover: false)
        let message = ByteBuffer(
            string:
                #"{"type":"quote","symbol":"AAPL","seq":12,"ts":1,"bid":"189.1200","ask":"189.1300","bidSize":300,"askSize":500}"#
        )
        let first = try deflater.compress(message)
        let second = try deflater.compress(message)
        // No context takeover: the same message compresses to the same bytes every time, which is what
        // makes one frame valid for every subscriber.
        #expect(first == second)
        #expect(first.readableBytes < message.readableBytes)
        #expect(first.readableBytes >= 2 && !first.readableBytesView.suffix(4).elementsEqual([0, 0, 0xFF, 0xFF]))
        #expect(try inflater.inflate(first, limit: 1 << 16, allocator: allocator) == message)
        #expect(try inflater.inflate(second, limit: 1 << 16, allocator: allocator) == message)
    }

    @Test func contextTakeoverShrinksRepeatsAndNeedsTheSameOrderToInflate() throws {
        let deflater = try MessageDeflater(contextTakeover: true, windowBits: 11, memoryLevel: 4)
        let inflater = try MessageInflater(contextTakeover: true)
        let message = ByteBuffer(
            string: #"{"type":"quote","symbol":"MSFT","seq":40,"bid":"414.0000","ask":"414.0200"}"#)
        let first = try deflater.compress(message)
        let second = try deflater.compress(message)
        #expect(second.readableBytes < first.readableBytes)
        #expect(try inflater.inflate(first, limit: 4096, allocator: allocator) == message)
        #expect(try inflater.inflate(second, limit: 4096, allocator: allocator) == message)
        #expect(deflater.memoryBytes == (1 << 13) + (1 << 13) + 6 * 1024)
    }

    @Test func aZipBombIsRefusedAtTheLimit() throws {
        let deflater = try MessageDeflater(contextTakeover: false)
        let inflater = try MessageInflater(contextTakeover: false)
        let bomb = try deflater.compress(ByteBuffer(repeating: UInt8(ascii: "a"), count: 10_000_000))
        #expect(bomb.readableBytes < 20_000)
        #expect(throws: MessageInflater.Failure.tooLarge(limit: 65_536)) {
            try inflater.inflate(bomb, limit: 65_536, allocator: allocator)
        }
        // The inflater is usable again afterwards.
        let small = ByteBuffer(string: "hello")
        #expect(try inflater.inflate(try deflater.compress(small), limit: 64, allocator: allocator) == small)
        #expect(throws: MessageInflater.Failure.corrupt) {
            try inflater.inflate(ByteBuffer(bytes: [0xFF, 0xFF, 0xFF, 0xFF]), limit: 64, allocator: allocator)
        }
    }

    @Test func compressedFramesHaveRSV1AndTheSameOpcode() throws {
        let deflater = try MessageDeflater(contextTakeover: false)
        let plain = WebSocketFrameBuilder.text(
            ServerMessage.heartbeat(timestamp: Timestamp(nanosecondsSinceEpoch: 5)), allocator: allocator)
        let frame = try deflater.compressedFrame(of: plain, allocator: allocator)
        #expect(frame.getInteger(at: frame.readerIndex, as: UInt8.self) == 0xC1)  // FIN | RSV1 | text
        let inflated = try MessageInflater(contextTakeover: false)
            .inflate(WebSocketFrameBuilder.payload(of: frame), limit: 1024, allocator: allocator)
        #expect(inflated == WebSocketFrameBuilder.payload(of: plain))
    }

    @Test func recordVariantsSliceWithoutCopying() throws {
        var record = ByteBuffer()
        let plain = ByteBuffer(string: "plain-frame")
        FrameVariants.write(plain: plain, deflate: .compressed(ByteBuffer(string: "deflated")), into: &record)
        let variants = try #require(FrameVariants(payload: record))
        #expect(variants.plain == plain && variants.deflate == ByteBuffer(string: "deflated"))
        FrameVariants.write(plain: plain, deflate: .notBuilt, into: &record)
        #expect(FrameVariants(payload: record)?.deflate == nil)
        FrameVariants.write(plain: plain, deflate: .notWorthCompressing, into: &record)
        #expect(FrameVariants(payload: record)?.deflate == plain)
        #expect(FrameVariants(payload: ByteBuffer(bytes: [9, 0, 0, 0, 1])) == nil)  // truncated
    }

    /// Issue 13, defect 4: a frame that does not get smaller was compressed again for every
    /// shared-deflate subscriber on the loop; now the outcome is kept with the message.
    @Test func aMessageNotWorthCompressingIsTriedOncePerLoopNotOncePerSubscriber() throws {
        var generator = SeededGenerator(seed: 3)
        let noise = (0..<200).map { _ in UInt8(truncatingIfNeeded: generator.next()) }  // incompressible
        var plain = allocator.buffer(capacity: 256)
        WebSocketFrameBuilder.build(.binary, into: &plain) { $0.writeBytes(noise) }
        let compression = SharedCompression()
        let deflater = try MessageDeflater(contextTakeover: false)
        var attempts = 0
        let message = OutgoingMessage(plain: plain)
        for _ in 0..<1_000 {
            let frame = message.sharedDeflate(
                compression,
                deflater: {
                    attempts += 1
                    return deflater
                }, allocator: allocator)
            #expect(frame == plain)
        }
        #expect(attempts == 1)
    }

    @Test func zstdFramesCarryTheDictionaryIdAndDecodeWithIt() throws {
        var samples: [[UInt8]] = []
        for seq in 1...2_000 {
            let symbol = ["AAPL", "MSFT", "NVDA", "AMZN", "TSLA"][seq % 5]
            samples.append(
                Array(
                    #"{"type":"quote","symbol":"\#(symbol)","seq":\#(seq),"ts":17640648001\#(seq % 1000)23456789,"bid":"1\#(seq % 90).2300","ask":"1\#(seq % 90).2400","bidSize":\#(seq % 7)00,"askSize":\#(seq % 9)00}"#
                        .utf8))
        }
        let dictionary = try ZstdDictionary(trainingOn: samples, capacity: 4096)
        #expect(dictionary.id != 0 && dictionary.bytes.count <= 4096)
        let message = ByteBuffer(
            string:
                #"{"type":"quote","symbol":"MSFT","seq":4242,"ts":1764064800999123456,"bid":"141.2300","ask":"141.2400","bidSize":300,"askSize":500}"#
        )
        let frame = try #require(
            ZstdMessageCompressor(dictionary: dictionary).compressedFrame(message, allocator: allocator))
        #expect(frame.getInteger(at: frame.readerIndex, as: UInt8.self) == 0x82)  // FIN | binary
        let compressed = Array(WebSocketFrameBuilder.payload(of: frame).readableBytesView)
        #expect(compressed.count < message.readableBytes / 2)
        #expect(compressed.withUnsafeBytes { ZSTD_getDictID_fromFrame($0.baseAddress, $0.count) } == dictionary.id)
        var output = [UInt8](repeating: 0, count: 1024)
        let size = output.withUnsafeMutableBytes { out in
            compressed.withUnsafeBytes { input in
                dictionary.bytes.withUnsafeBytes { dict in
                    let context = ZSTD_createDCtx()
                    defer { ZSTD_freeDCtx(context) }
                    return ZSTD_decompress_usingDict(
                        context, out.baseAddress, out.count, input.baseAddress, input.count,
                        dict.baseAddress, dict.count)
                }
            }
        }
        #expect(ZSTD_isError(size) == 0)
        #expect(Array(output.prefix(size)) == Array(message.readableBytesView))
    }

    @Test func tooFewSamplesFailTrainingWithAReason() {
        #expect(throws: ZstdDictionary.Failure.self) { try ZstdDictionary(trainingOn: [Array("x".utf8)]) }
    }
}
