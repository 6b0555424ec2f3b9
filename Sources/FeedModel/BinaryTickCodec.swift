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
/// | 1    | kind: 1 = quote, 2 = trade                                    |
/// | 1    | symbol length `L` (1…16)                                      |
/// | L    | symbol, ASCII, see `Symbol`                                   |
/// | 8    | seq (UInt64, at most 2^53 - 1): 0 lets the hub number it; otherwise the hub keeps it |
/// | 8    | ts, nanoseconds since the Unix epoch (UInt64)                 |
/// | 1    | price scale (0…18), shared by every price in the record       |
/// | 32   | quote: bid, ask (Int64 mantissas), bidSize, askSize (Int64)   |
/// | 16   | trade: price (Int64 mantissa), size (Int64)                   |
///
/// A quote for a 4-letter symbol is 55 bytes; its JSON is about 150.
public enum BinaryTickCodec {
    public static let magic: UInt16 = 0x4B54  // "TK" read little-endian
    public static let version: UInt8 = 1
    public static let headerSize = 6
    public static let maxRecordsPerBatch = Int(UInt16.max)

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
    }

    private enum Kind: UInt8 {
        case quote = 1
        case trade = 2
    }

    /// Appends one batch holding `ticks` (at most 65,535) to `buffer`.
    /// Prices in one record must share a scale; the bid's scale is used and the ask is rescaled to it.
    public static func encodeBatch(_ ticks: some Collection<Tick>, into buffer: inout ByteBuffer) {
        precondition(ticks.count <= maxRecordsPerBatch, "a batch holds at most \(maxRecordsPerBatch) ticks")
        buffer.writeInteger(magic, endianness: .little)
        buffer.writeInteger(version)
        buffer.writeInteger(UInt8(0))
        buffer.writeInteger(UInt16(ticks.count), endianness: .little)
        for tick in ticks { encode(tick, into: &buffer) }
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

    /// Decodes one whole batch; the buffer must hold exactly one batch.
    public static func decodeBatch(_ buffer: ByteBuffer) throws(DecodeError) -> [Tick] {
        var buffer = buffer
        guard let magic = buffer.readInteger(endianness: .little, as: UInt16.self),
              let version = buffer.readInteger(as: UInt8.self),
              let flags = buffer.readInteger(as: UInt8.self),
              let count = buffer.readInteger(endianness: .little, as: UInt16.self) else { throw .truncated }
        guard magic == BinaryTickCodec.magic else { throw .badMagic }
        guard version == BinaryTickCodec.version else { throw .unsupportedVersion(version) }
        guard flags == 0 else { throw .unsupportedFlags(flags) }
        var ticks: [Tick] = []
        // The count is untrusted: never reserve more than the bytes could possibly hold.
        ticks.reserveCapacity(min(Int(count), buffer.readableBytes / 36))
        for _ in 0..<count {
            ticks.append(try decodeRecord(&buffer))
        }
        guard buffer.readableBytes == 0 else { throw .trailingBytes(buffer.readableBytes) }
        return ticks
    }

    private static func decodeRecord(_ buffer: inout ByteBuffer) throws(DecodeError) -> Tick {
        guard let kindByte = buffer.readInteger(as: UInt8.self),
              let symbolLength = buffer.readInteger(as: UInt8.self) else { throw .truncated }
        guard let kind = Kind(rawValue: kindByte) else { throw .unknownKind(kindByte) }
        guard let symbolText = buffer.readString(length: Int(symbolLength)) else { throw .truncated }
        guard let symbol = Symbol(symbolText) else { throw .invalidSymbol }
        guard let seq = buffer.readInteger(endianness: .little, as: UInt64.self),
              let ts = buffer.readInteger(endianness: .little, as: UInt64.self),
              let scale = buffer.readInteger(as: UInt8.self) else { throw .truncated }
        guard scale <= Price.maxScale else { throw .invalidScale(scale) }
        guard seq <= Tick.maxSeq else { throw .seqOutOfRange(seq) }
        let body: TickBody
        switch kind {
        case .quote:
            guard let bid = buffer.readInteger(endianness: .little, as: Int64.self),
                  let ask = buffer.readInteger(endianness: .little, as: Int64.self),
                  let bidSize = buffer.readInteger(endianness: .little, as: Int64.self),
                  let askSize = buffer.readInteger(endianness: .little, as: Int64.self) else { throw .truncated }
            body = .quote(Quote(bid: Price(mantissa: bid, scale: scale), ask: Price(mantissa: ask, scale: scale),
                                bidSize: bidSize, askSize: askSize))
        case .trade:
            guard let price = buffer.readInteger(endianness: .little, as: Int64.self),
                  let size = buffer.readInteger(endianness: .little, as: Int64.self) else { throw .truncated }
            body = .trade(Trade(price: Price(mantissa: price, scale: scale), size: size))
        }
        return Tick(symbol: symbol, seq: seq, timestamp: Timestamp(nanosecondsSinceEpoch: ts), body: body)
    }
}
