import NIOCore

/// The compact binary encoding of ticks, used by `/ingest` publishers and native clients.
///
/// All integers are little-endian. A *batch* is:
///
/// | offset | size | field                                  |
/// |-------:|-----:|----------------------------------------|
/// | 0      | 2    | magic `0x54 0x4B` ("TK")               |
/// | 2      | 1    | version, currently 1                   |
/// | 3      | 1    | flags, must be 0                       |
/// | 4      | 2    | record count `n` (UInt16)              |
/// | 6      | …    | `n` tick records, back to back         |
///
/// A *tick record* is:
///
/// | size | field                                                         |
/// |-----:|---------------------------------------------------------------|
/// | 1    | kind: 1 = quote, 2 = trade, 3 = book, 4 = instrument          |
/// | 1    | symbol length `L` (1…16)                                      |
/// | L    | symbol, ASCII, see `Symbol`                                   |
/// | 8    | seq (UInt64, at most 2^53 - 1): 0 lets the hub number it; otherwise the hub keeps it |
/// | 8    | ts, nanoseconds since the Unix epoch (UInt64)                 |
/// | 1    | price scale (0…18), shared by every price in the record       |
/// | 32   | quote: bid, ask (Int64 mantissas), bidSize, askSize (Int64)   |
/// | 16   | trade: price (Int64 mantissa), size (Int64)                   |
///
/// A *book* record (`BookRecord`) has, after the scale:
///
/// | size | field                                                         |
/// |-----:|---------------------------------------------------------------|
/// | 1    | flags: bit 0 = the levels are the whole book (it replaces the hub's); others 0 |
/// | 2    | bid level count `B` (UInt16, at most `maxLevelsPerSide`)      |
/// | 2    | ask level count `A` (likewise)                                |
/// | 16 × (B + A) | the bid levels, then the ask levels: price (Int64 mantissa), size (Int64, 0 removes, never negative) |
///
/// Its seq numbers the publisher's book changes of the symbol, apart from its ticks.
///
/// An *instrument* record (`InstrumentRecord`; its seq is ignored) has, after the scale (the tick
/// size's): tick size (Int64 mantissa), lot size (Int64), currency length (UInt8, 1…8) and bytes
/// (`A-Z`), name length (UInt8, 1…64) and bytes (UTF-8, no control characters).
/// A quote for a 4-letter symbol is 55 bytes; its JSON is about 150.
public enum BinaryTickCodec {
    public static let magic: UInt16 = 0x4B54  // "TK" read little-endian
    public static let version: UInt8 = 1
    public static let headerSize = 6
    public static let maxRecordsPerBatch = Int(UInt16.max)
    /// Levels one book record may list per side: a whole book of the hub's depth (100) many times
    /// over, and still a bounded allocation whatever the counts say.
    public static let maxLevelsPerSide = 1_000

    public enum DecodeError: Error, Sendable, Equatable {
        case truncated
        case badMagic
        case unsupportedVersion(UInt8)
        case unsupportedFlags(UInt8)
        case unknownKind(UInt8)
        case invalidSymbol
        case invalidScale(UInt8)
        case trailingBytes(Int)
        /// A seq above `Tick.maxSeq`.
        case seqOutOfRange(UInt64)
        /// A book record's flags with a bit that means nothing yet.
        case unsupportedBookFlags(UInt8)
        /// A book record listing more than `maxLevelsPerSide` levels on a side.
        case tooManyLevels(Int)
        /// A book level with a size below 0.
        case negativeSize
        /// An instrument record out of `InstrumentDetails`' bounds.
        case invalidInstrument
    }

    private enum Kind: UInt8 {
        case quote = 1
        case trade = 2
        case book = 3
        case instrument = 4
    }

    /// Appends one batch holding `ticks` (at most 65,535) to `buffer`.
    /// Prices in one record must share a scale; the bid's scale is used and the ask is rescaled to it.
    public static func encodeBatch(
        _ ticks: some Collection<Tick>, books: some Collection<BookRecord> = [BookRecord](),
        instruments: some Collection<InstrumentRecord> = [InstrumentRecord](), into buffer: inout ByteBuffer
    ) {
        let count = ticks.count + books.count + instruments.count
        precondition(count <= maxRecordsPerBatch, "a batch holds at most \(maxRecordsPerBatch) records")
        buffer.writeInteger(magic, endianness: .little)
        buffer.writeInteger(version)
        buffer.writeInteger(UInt8(0))
        buffer.writeInteger(UInt16(count), endianness: .little)
        for instrument in instruments { encode(instrument, into: &buffer) }
        for tick in ticks { encode(tick, into: &buffer) }
        for book in books { encode(book, into: &buffer) }
    }

    public static func encode(_ record: InstrumentRecord, into buffer: inout ByteBuffer) {
        buffer.writeInteger(Kind.instrument.rawValue)
        buffer.writeInteger(UInt8(record.symbol.name.utf8.count))
        buffer.writeString(record.symbol.name)
        buffer.writeInteger(UInt64(0), endianness: .little)
        buffer.writeInteger(UInt64(0), endianness: .little)
        buffer.writeInteger(record.details.tickSize.scale)
        buffer.writeInteger(record.details.tickSize.mantissa, endianness: .little)
        buffer.writeInteger(record.details.lotSize, endianness: .little)
        for text in [record.details.currency, record.details.name] {
            buffer.writeInteger(UInt8(text.utf8.count))
            buffer.writeString(text)
        }
    }

    /// One book record. Its levels are written at the largest scale among them (one book has one).
    public static func encode(_ record: BookRecord, into buffer: inout ByteBuffer) {
        precondition(
            record.change.bids.count <= maxLevelsPerSide && record.change.asks.count <= maxLevelsPerSide,
            "a book record lists at most \(maxLevelsPerSide) levels per side")
        buffer.writeInteger(Kind.book.rawValue)
        buffer.writeInteger(UInt8(record.symbol.name.utf8.count))
        buffer.writeString(record.symbol.name)
        buffer.writeInteger(record.seq, endianness: .little)
        buffer.writeInteger(record.timestamp.nanosecondsSinceEpoch, endianness: .little)
        let scale = (record.change.bids + record.change.asks).map(\.price.scale).max() ?? 0
        buffer.writeInteger(scale)
        buffer.writeInteger(UInt8(record.replacesBook ? 1 : 0))
        buffer.writeInteger(UInt16(record.change.bids.count), endianness: .little)
        buffer.writeInteger(UInt16(record.change.asks.count), endianness: .little)
        for level in record.change.bids + record.change.asks {
            guard let price = level.price.rescaled(to: scale) else {
                preconditionFailure("\(level.price) does not fit scale \(scale)")
            }
            buffer.writeInteger(price.mantissa, endianness: .little)
            buffer.writeInteger(level.size, endianness: .little)
        }
    }

    public static func encode(_ tick: Tick, into buffer: inout ByteBuffer) {
        switch tick.body {
        case .quote: buffer.writeInteger(Kind.quote.rawValue)
        case .trade: buffer.writeInteger(Kind.trade.rawValue)
        }
        buffer.writeInteger(UInt8(tick.symbol.name.utf8.count))
        buffer.writeString(tick.symbol.name)
        buffer.writeInteger(tick.seq, endianness: .little)
        buffer.writeInteger(tick.timestamp.nanosecondsSinceEpoch, endianness: .little)
        switch tick.body {
        case .quote(let quote):
            let scale = max(quote.bid.scale, quote.ask.scale)
            buffer.writeInteger(scale)
            buffer.writeInteger(quote.bid.rescaled(to: scale)!.mantissa, endianness: .little)
            buffer.writeInteger(quote.ask.rescaled(to: scale)!.mantissa, endianness: .little)
            buffer.writeInteger(quote.bidSize, endianness: .little)
            buffer.writeInteger(quote.askSize, endianness: .little)
        case .trade(let trade):
            buffer.writeInteger(trade.price.scale)
            buffer.writeInteger(trade.price.mantissa, endianness: .little)
            buffer.writeInteger(trade.size, endianness: .little)
        }
    }

    /// Decodes one whole batch of ticks only (a book record in it is `unknownKind(3)`).
    public static func decodeBatch(_ buffer: ByteBuffer) throws(DecodeError) -> [Tick] {
        let batch = try decodeFeedBatch(buffer)
        guard batch.books.isEmpty else { throw .unknownKind(Kind.book.rawValue) }
        guard batch.instruments.isEmpty else { throw .unknownKind(Kind.instrument.rawValue) }
        return batch.ticks
    }

    /// Decodes one whole batch of ticks and book changes; the buffer must hold exactly one batch.
    public static func decodeFeedBatch(_ buffer: ByteBuffer) throws(DecodeError) -> FeedBatch {
        var buffer = buffer
        guard let magic = buffer.readInteger(endianness: .little, as: UInt16.self),
            let version = buffer.readInteger(as: UInt8.self),
            let flags = buffer.readInteger(as: UInt8.self),
            let count = buffer.readInteger(endianness: .little, as: UInt16.self)
        else { throw .truncated }
        guard magic == BinaryTickCodec.magic else { throw .badMagic }
        guard version == BinaryTickCodec.version else { throw .unsupportedVersion(version) }
        guard flags == 0 else { throw .unsupportedFlags(flags) }
        var batch = FeedBatch()
        // The count is untrusted: never reserve more than the bytes could possibly hold.
        batch.ticks.reserveCapacity(min(Int(count), buffer.readableBytes / 36))
        for _ in 0..<count {
            switch try decodeRecord(&buffer) {
            case .tick(let tick): batch.ticks.append(tick)
            case .book(let book): batch.books.append(book)
            case .instrument(let instrument): batch.instruments.append(instrument)
            }
        }
        guard buffer.readableBytes == 0 else { throw .trailingBytes(buffer.readableBytes) }
        return batch
    }

    private enum Record {
        case tick(Tick)
        case book(BookRecord)
        case instrument(InstrumentRecord)
    }

    private static func decodeRecord(_ buffer: inout ByteBuffer) throws(DecodeError) -> Record {
        guard let kindByte = buffer.readInteger(as: UInt8.self),
            let symbolLength = buffer.readInteger(as: UInt8.self)
        else { throw .truncated }
        guard let kind = Kind(rawValue: kindByte) else { throw .unknownKind(kindByte) }
        guard let symbolText = buffer.readString(length: Int(symbolLength)) else { throw .truncated }
        guard let symbol = Symbol(symbolText) else { throw .invalidSymbol }
        guard let seq = buffer.readInteger(endianness: .little, as: UInt64.self),
            let ts = buffer.readInteger(endianness: .little, as: UInt64.self),
            let scale = buffer.readInteger(as: UInt8.self)
        else { throw .truncated }
        guard scale <= Price.maxScale else { throw .invalidScale(scale) }
        guard seq <= Tick.maxSeq else { throw .seqOutOfRange(seq) }
        let body: TickBody
        switch kind {
        case .book:
            return .book(
                try decodeBook(
                    &buffer, symbol: symbol, seq: seq, timestamp: Timestamp(nanosecondsSinceEpoch: ts), scale: scale))
        case .instrument:
            guard let tick = buffer.readInteger(endianness: .little, as: Int64.self),
                let lot = buffer.readInteger(endianness: .little, as: Int64.self),
                let currencyLength = buffer.readInteger(as: UInt8.self),
                let currency = buffer.readString(length: Int(currencyLength)),
                let nameLength = buffer.readInteger(as: UInt8.self),
                let nameBytes = buffer.readBytes(length: Int(nameLength))
            else { throw .truncated }
            guard let name = String(validating: nameBytes, as: UTF8.self),
                let details = InstrumentDetails(
                    tickSize: Price(mantissa: tick, scale: scale), lotSize: lot, currency: currency, name: name)
            else { throw .invalidInstrument }
            return .instrument(InstrumentRecord(symbol: symbol, details: details))
        case .quote:
            guard let bid = buffer.readInteger(endianness: .little, as: Int64.self),
                let ask = buffer.readInteger(endianness: .little, as: Int64.self),
                let bidSize = buffer.readInteger(endianness: .little, as: Int64.self),
                let askSize = buffer.readInteger(endianness: .little, as: Int64.self)
            else { throw .truncated }
            body = .quote(
                Quote(
                    bid: Price(mantissa: bid, scale: scale), ask: Price(mantissa: ask, scale: scale),
                    bidSize: bidSize, askSize: askSize))
        case .trade:
            guard let price = buffer.readInteger(endianness: .little, as: Int64.self),
                let size = buffer.readInteger(endianness: .little, as: Int64.self)
            else { throw .truncated }
            body = .trade(Trade(price: Price(mantissa: price, scale: scale), size: size))
        }
        return .tick(Tick(symbol: symbol, seq: seq, timestamp: Timestamp(nanosecondsSinceEpoch: ts), body: body))
    }

    private static func decodeBook(
        _ buffer: inout ByteBuffer, symbol: Symbol, seq: UInt64, timestamp: Timestamp,
        scale: UInt8
    ) throws(DecodeError) -> BookRecord {
        guard let flags = buffer.readInteger(as: UInt8.self),
            let bidCount = buffer.readInteger(endianness: .little, as: UInt16.self),
            let askCount = buffer.readInteger(endianness: .little, as: UInt16.self)
        else { throw .truncated }
        guard flags & ~1 == 0 else { throw .unsupportedBookFlags(flags) }
        for count in [Int(bidCount), Int(askCount)] where count > maxLevelsPerSide { throw .tooManyLevels(count) }
        // Both counts are bounded above, and the bytes must be there before anything is kept.
        guard buffer.readableBytes >= 16 * (Int(bidCount) + Int(askCount)) else { throw .truncated }
        var change = BookDelta()
        for (side, count) in [(BookSide.bid, Int(bidCount)), (.ask, Int(askCount))] {
            var levels: [PriceLevel] = []
            levels.reserveCapacity(count)
            for _ in 0..<count {
                let mantissa = buffer.readInteger(endianness: .little, as: Int64.self)!
                let size = buffer.readInteger(endianness: .little, as: Int64.self)!
                guard size >= 0 else { throw .negativeSize }
                levels.append(PriceLevel(price: Price(mantissa: mantissa, scale: scale), size: size))
            }
            change[side] = levels
        }
        return BookRecord(symbol: symbol, seq: seq, timestamp: timestamp, change: change, replacesBook: flags & 1 != 0)
    }
}
