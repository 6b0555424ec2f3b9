import FeedModel
import NIOCore
import Testing

@Suite struct BinaryTickCodecTests {
    static func randomTicks(_ count: Int, seed: UInt64) -> [Tick] {
        var simulator = MarketSimulator(instruments: SymbolUniverse.instruments(count: 50, seed: seed), seed: seed)
        return (0..<count).map { index in
            let event = simulator.next()
            return Tick(
                symbol: simulator.instruments[event.instrumentIndex].symbol, seq: UInt64(index + 1),
                timestamp: Timestamp(nanosecondsSinceEpoch: 1_700_000_000_000_000_000 + UInt64(index)), body: event.body
            )
        }
    }

    @Test func roundTripsBatches() throws {
        for count in [0, 1, 7, 1000] {
            let ticks = Self.randomTicks(count, seed: UInt64(count))
            var buffer = ByteBuffer()
            BinaryTickCodec.encodeBatch(ticks, into: &buffer)
            #expect(try BinaryTickCodec.decodeBatch(buffer) == ticks)
        }
    }

    @Test func bookRecordsRoundTripBesideTicksAndBadOnesAreTypedErrors() throws {
        var simulator = MarketSimulator(instruments: SymbolUniverse.instruments(count: 5, seed: 9), seed: 9)
        let stamp = Timestamp(nanosecondsSinceEpoch: 1_700_000_000_000_000_000)
        var books = simulator.openingBooks.enumerated().map { index, book in
            BookRecord(
                symbol: simulator.instruments[index].symbol, seq: 1, timestamp: stamp, change: book, replacesBook: true)
        }
        for n in 0..<200 {
            let event = simulator.next()
            books.append(
                BookRecord(
                    symbol: simulator.instruments[event.instrumentIndex].symbol, seq: UInt64(n + 2), timestamp: stamp,
                    change: event.bookChange))
        }
        let ticks = Self.randomTicks(20, seed: 9)
        var buffer = ByteBuffer()
        BinaryTickCodec.encodeBatch(ticks, books: books, into: &buffer)
        #expect(try BinaryTickCodec.decodeFeedBatch(buffer) == FeedBatch(ticks: ticks, books: books))
        #expect(throws: BinaryTickCodec.DecodeError.unknownKind(3)) { try BinaryTickCodec.decodeBatch(buffer) }

        /// One book record for "AB", with the bytes after its scale given.
        func batch(_ tail: [UInt8]) -> ByteBuffer {
            var buffer = ByteBuffer(bytes: [0x54, 0x4B, 1, 0, 1, 0, 3, 2, UInt8(ascii: "A"), UInt8(ascii: "B")])
            buffer.writeInteger(UInt64(1), endianness: .little)
            buffer.writeInteger(UInt64(2), endianness: .little)
            buffer.writeInteger(UInt8(2))
            buffer.writeBytes(tail)
            return buffer
        }
        func level(_ mantissa: Int64, _ size: Int64) -> [UInt8] {
            withUnsafeBytes(of: mantissa.littleEndian, Array.init) + withUnsafeBytes(of: size.littleEndian, Array.init)
        }
        let good = try BinaryTickCodec.decodeFeedBatch(batch([1, 1, 0, 0, 0] + level(12_345, 300)))
        #expect(
            good.books == [
                BookRecord(
                    symbol: "AB", seq: 1, timestamp: Timestamp(nanosecondsSinceEpoch: 2),
                    change: BookDelta(bids: [PriceLevel(price: Price("123.45")!, size: 300)]), replacesBook: true)
            ])
        #expect(throws: BinaryTickCodec.DecodeError.unsupportedBookFlags(2)) {
            try BinaryTickCodec.decodeFeedBatch(batch([2, 0, 0, 0, 0]))
        }
        #expect(throws: BinaryTickCodec.DecodeError.tooManyLevels(1001)) {
            try BinaryTickCodec.decodeFeedBatch(batch([0, 0xE9, 0x03, 0, 0]))
        }
        // Counts that promise more levels than the bytes hold: refused before anything is kept.
        #expect(throws: BinaryTickCodec.DecodeError.truncated) {
            try BinaryTickCodec.decodeFeedBatch(batch([0, 0xE8, 0x03, 0xE8, 0x03]))
        }
        #expect(throws: BinaryTickCodec.DecodeError.negativeSize) {
            try BinaryTickCodec.decodeFeedBatch(batch([0, 0, 0, 1, 0] + level(100, -1)))
        }
    }

    @Test func instrumentRecordsRoundTripAndBadOnesAreRefused() throws {
        let details = InstrumentDetails(
            tickSize: Price("0.0100")!, lotSize: 100, currency: "USD", name: "Société Générale")!
        let record = InstrumentRecord(symbol: "GLE", details: details)
        var buffer = ByteBuffer()
        BinaryTickCodec.encodeBatch(Self.randomTicks(2, seed: 1), instruments: [record], into: &buffer)
        let batch = try BinaryTickCodec.decodeFeedBatch(buffer)
        #expect(batch.instruments == [record] && batch.ticks.count == 2)
        #expect(throws: BinaryTickCodec.DecodeError.unknownKind(4)) { try BinaryTickCodec.decodeBatch(buffer) }
        var bad = ByteBuffer()
        BinaryTickCodec.encodeBatch([Tick](), instruments: [record], into: &bad)
        // The currency's first letter made lower case: refused.
        let currencyAt = bad.readableBytes - details.name.utf8.count - 1 - 3
        bad.setInteger(UInt8(ascii: "u"), at: currencyAt)
        #expect(throws: BinaryTickCodec.DecodeError.invalidInstrument) { try BinaryTickCodec.decodeFeedBatch(bad) }
    }

    @Test func quoteRecordIsCompact() {
        var buffer = ByteBuffer()
        let quote = Quote(bid: Price("189.12")!, ask: Price("189.13")!, bidSize: 1, askSize: 2)
        BinaryTickCodec.encode(
            Tick(symbol: Symbol(stringLiteral: "AAPL"), seq: 1, timestamp: .now(), body: .quote(quote)), into: &buffer)
        #expect(buffer.readableBytes == 55)
    }

    @Test func everyTruncationIsATypedError() {
        var buffer = ByteBuffer()
        BinaryTickCodec.encodeBatch(Self.randomTicks(5, seed: 3), into: &buffer)
        for length in 0..<buffer.readableBytes {
            #expect(throws: BinaryTickCodec.DecodeError.self) {
                try BinaryTickCodec.decodeBatch(buffer.getSlice(at: 0, length: length)!)
            }
        }
    }

    @Test func rejectsMalformedBatches() {
        var good = ByteBuffer()
        BinaryTickCodec.encodeBatch(Self.randomTicks(1, seed: 4), into: &good)
        func mutated(_ offset: Int, _ byte: UInt8) -> ByteBuffer {
            var copy = good
            copy.setInteger(byte, at: offset)
            return copy
        }
        #expect(throws: BinaryTickCodec.DecodeError.badMagic) { try BinaryTickCodec.decodeBatch(mutated(0, 0)) }
        #expect(throws: BinaryTickCodec.DecodeError.unsupportedVersion(9)) {
            try BinaryTickCodec.decodeBatch(mutated(2, 9))
        }
        #expect(throws: BinaryTickCodec.DecodeError.unknownKind(7)) { try BinaryTickCodec.decodeBatch(mutated(6, 7)) }
        #expect(throws: BinaryTickCodec.DecodeError.invalidSymbol) {
            try BinaryTickCodec.decodeBatch(mutated(8, UInt8(ascii: "a")))
        }
        var trailing = good
        trailing.writeInteger(UInt8(0))
        #expect(throws: BinaryTickCodec.DecodeError.trailingBytes(1)) { try BinaryTickCodec.decodeBatch(trailing) }
    }

    @Test func survivesRandomBytes() {
        var generator = SeededGenerator(seed: 5)
        for _ in 0..<5_000 {
            var buffer = ByteBuffer()
            buffer.writeInteger(BinaryTickCodec.magic, endianness: .little)
            buffer.writeInteger(BinaryTickCodec.version)
            for _ in 0..<(generator.next() % 200) { buffer.writeInteger(UInt8(truncatingIfNeeded: generator.next())) }
            _ = try? BinaryTickCodec.decodeBatch(buffer)
        }
    }
}
