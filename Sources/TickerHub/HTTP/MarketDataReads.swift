import AccessControl
import FanoutEngine
import FeedModel
import NIOCore

/// The REST reads of market data: `/v1/snapshot`, `/v1/book`, `/v1/candles`, `/v1/instruments`.
/// Each answers only what the request's grant allows (a named symbol it does not: 403).
extension HTTPRoutes {
    /// Every symbol the grant allows, in registration order: its details (once the feed said them)
    /// and its session's statistics (once it traded).
    func instruments(entitlement: SymbolEntitlement) -> HTTPResponse {
        let directory = hub.engine.directory
        let ids = directory.allSymbolIDs
        var json = JSONWriter(buffer: ByteBuffer())
        json.beginArrayValue()
        for (id, snapshot) in zip(ids, hub.engine.lastValues.snapshots(of: ids)) {
            guard let symbol = snapshot?.symbol ?? directory.symbol(for: id), entitlement.allows(symbol.name) else {
                continue
            }
            json.beginObject()
            json.field("symbol", symbol.name)
            if let snapshot {
                if let details = snapshot.details { json.detailFields(details) }
                if let open = snapshot.open { json.field("open", open) }
                json.sessionFields(snapshot)
                if let last = snapshot.lastTrade { json.field("last", last.price) }
            }
            json.endObject()
        }
        json.endArray()
        return .json(json.buffer)
    }

    /// The last `limit` bars (300 when not given, at most the store's capacity) of a symbol at an
    /// interval, oldest first, the open one last: a chart's backfill.
    func candles(
        symbol name: Substring?, interval text: Substring?, limit limitText: Substring?,
        entitlement: SymbolEntitlement
    ) -> HTTPResponse {
        let intervals = CandleInterval.allCases.map(\.rawValue).joined(separator: ", ")
        guard let name, !name.isEmpty, let text, let interval = CandleInterval(rawValue: String(text)) else {
            return .error(
                .badRequest, code: "invalid_request",
                message: "/v1/candles needs ?symbol=NAME&interval=I (I one of \(intervals)), and may take &limit=N")
        }
        let store = hub.engine.publisher.candles
        let limit = limitText.map { Int($0) } ?? store.capacity
        guard let limit, limit >= 1 else {
            return .error(
                .badRequest, code: "invalid_request",
                message: "limit must be a whole number from 1 to \(store.capacity)")
        }
        let symbol = String(name)
        guard entitlement.allows(symbol) else {
            let error = ProtocolError.notEntitled([symbol])
            return .error(.forbidden, code: error.code.rawValue, message: error.message)
        }
        guard let id = hub.engine.directory.id(of: symbol), let parsed = Symbol(symbol) else {
            let error = ProtocolError.unknownSymbols([symbol])
            return .error(.notFound, code: error.code.rawValue, message: error.message)
        }
        var json = JSONWriter(buffer: ByteBuffer())
        json.beginObject()
        json.field("type", "candles")
        json.candleSnapshotFields(
            store.history(of: id, symbol: parsed, interval: interval, limit: min(limit, store.capacity + 1)))
        json.endObject()
        return .json(json.buffer)
    }

    /// Named symbols must all be granted (else 403 `not_entitled`); without names, all that are.
    func snapshot(query: Substring?, entitlement: SymbolEntitlement) -> HTTPResponse {
        let directory = hub.engine.directory
        var ids: [SymbolID]
        if let query, !query.isEmpty {
            let names = query.split(separator: ",").map(String.init)
            let refused = entitlement.partition(names).refused
            guard refused.isEmpty else {
                let error = ProtocolError.notEntitled(refused)
                return .error(.forbidden, code: error.code.rawValue, message: error.message)
            }
            let resolved = directory.resolve(names)
            guard resolved.unknown.isEmpty else {
                let error = ProtocolError.unknownSymbols(resolved.unknown)
                return .error(.notFound, code: error.code.rawValue, message: error.message)
            }
            ids = resolved.known.map(\.1)
        } else {
            ids = directory.allSymbolIDs
            if !entitlement.isEverything {
                ids = ids.filter { directory.symbol(for: $0).map { entitlement.allows($0.name) } ?? false }
            }
        }
        var json = JSONWriter(buffer: ByteBuffer())
        json.beginArrayValue()
        // Symbols with a value (a symbol with only its details has seq 0: `/v1/instruments` lists it).
        for snapshot in hub.engine.lastValues.snapshots(of: ids).compactMap({ $0 }) where snapshot.seq > 0 {
            json.beginObject()
            json.field("type", "snapshot")
            json.snapshotFields(snapshot, details: true)
            json.field("epoch", hub.engine.epoch.rawValue)
            json.endObject()
        }
        json.endArray()
        return .json(json.buffer)
    }

    /// A symbol's book at a depth (10 when not given): the `book` message a subscription starts with.
    func book(symbol name: Substring?, depth text: Substring?, entitlement: SymbolEntitlement) -> HTTPResponse {
        guard let name, !name.isEmpty else {
            return .error(
                .badRequest, code: "invalid_request", message: "/v1/book needs ?symbol=NAME (and &depth=10, 25 or 100)")
        }
        let depths = OrderBook.depths.map(String.init).joined(separator: ", ")
        guard let depth = text.map({ Int($0) }) ?? OrderBook.depths.first, OrderBook.depths.contains(depth) else {
            return .error(.badRequest, code: "invalid_request", message: "depth must be one of \(depths)")
        }
        let symbol = String(name)
        guard entitlement.allows(symbol) else {
            let error = ProtocolError.notEntitled([symbol])
            return .error(.forbidden, code: error.code.rawValue, message: error.message)
        }
        let directory = hub.engine.directory
        guard let id = directory.id(of: symbol), let stream = directory.bookStream(of: id, depth: depth),
            let parsed = Symbol(symbol)
        else {
            let error = ProtocolError.unknownSymbols([symbol])
            return .error(.notFound, code: error.code.rawValue, message: error.message)
        }
        var json = JSONWriter(buffer: ByteBuffer())
        json.beginObject()
        json.field("type", "book")
        json.bookFields(hub.engine.lastValues.book(of: stream) ?? BookSnapshot(symbol: parsed, depth: depth))
        json.endObject()
        return .json(json.buffer)
    }
}
