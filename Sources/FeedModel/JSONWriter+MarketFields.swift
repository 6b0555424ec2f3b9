import NIOCore

/// The fields of market values, written the one way every message and REST reply writes them.
extension JSONWriter {
    mutating func stringArray(_ key: StaticString, _ values: [String]) {
        beginArray(key: key)
        for value in values { string(value) }
        endArray()
    }

    mutating func counterObject(_ counters: [(String, UInt64)]) {
        beginObject()
        for (name, value) in counters {
            // Counter names are snake_case identifiers chosen in code; no escaping needed, but be safe.
            string(name)
            buffer.writeInteger(UInt8(ascii: ":"))
            buffer.writeString(String(value))
        }
        endObject()
    }

    /// The fields of a `quote` or `trade` update, starting with `"type"`.
    mutating func tickFields(_ tick: Tick) {
        field("type", tick.body.typeName)
        field("symbol", tick.symbol.name)
        field("seq", tick.seq)
        field("ts", tick.timestamp.nanosecondsSinceEpoch)
        tickBodyFields(tick.body)
    }

    /// The fields after `"ts"` of a `quote` or `trade` update: its prices and sizes.
    public mutating func tickBodyFields(_ body: TickBody) {
        switch body {
        case .quote(let quote):
            quoteFields(quote)
        case .trade(let trade):
            field("price", trade.price)
            field("size", trade.size)
        }
    }

    mutating func quoteFields(_ quote: Quote) {
        field("bid", quote.bid)
        field("ask", quote.ask)
        field("bidSize", quote.bidSize)
        field("askSize", quote.askSize)
    }

    /// Snapshot fields, shared by the `snapshot` message and `GET /v1/snapshot`.
    /// Quote fields are absent until the symbol has quoted; `last`/`lastSize` until it has traded.
    /// `details`: with the instrument's details (a `snapshot`; a `conflated` value leaves them out,
    /// as they do not change).
    public mutating func snapshotFields(_ snapshot: SymbolSnapshot, details: Bool = false) {
        field("symbol", snapshot.symbol.name)
        field("seq", snapshot.seq)
        field("ts", snapshot.timestamp.nanosecondsSinceEpoch)
        if let quote = snapshot.quote { quoteFields(quote) }
        if let trade = snapshot.lastTrade {
            field("last", trade.price)
            field("lastSize", trade.size)
        }
        if let open = snapshot.open { field("open", open) }
        sessionFields(snapshot)
        if details, let instrument = snapshot.details { detailFields(instrument) }
    }

    /// `high`, `low`, `volume` and `vwap` of the session, once it has traded (VWAP at the last
    /// trade's decimals).
    public mutating func sessionFields(_ snapshot: SymbolSnapshot) {
        guard let high = snapshot.session.high, let low = snapshot.session.low else { return }
        field("high", high)
        field("low", low)
        field("volume", snapshot.session.volume)
        if let vwap = snapshot.session.vwap(scale: snapshot.lastTrade?.price.scale ?? high.scale) {
            field("vwap", vwap)
        }
    }

    /// `tickSize`, `lotSize`, `currency` and `name`.
    public mutating func detailFields(_ details: InstrumentDetails) {
        field("tickSize", details.tickSize)
        field("lotSize", details.lotSize)
        field("currency", details.currency)
        field("name", details.name)
    }
}
