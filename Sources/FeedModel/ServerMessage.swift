import NIOCore

/// Every message the hub sends to a subscriber, protocol `tickerhub.v1` (see docs/PROTOCOL.md).
///
/// Field names here are the contract with clients; change them only with a protocol version bump.
public enum ServerMessage: Sendable, Equatable {
    case welcome(Welcome)
    /// `updateInterval`: the interval a `subscribe` with `maxFrequency` got (omitted otherwise).
    /// `recovery`: how a `subscribe` with `since` went (omitted without one).
    /// `channel`: written for a book (`"channel":"book"` and its `depth`); quotes and trades omit it.
    /// `patterns`: the symbol patterns a subscribe or unsubscribe took (omitted when none).
    case ack(
        id: Int64?, op: ClientMessage.Op, symbols: [String], updateInterval: UpdateInterval? = nil,
        recovery: Recovery? = nil,
        channel: ChannelScope = .ticks, patterns: [String] = [])
    case error(ProtocolError)
    /// One page of a `list` answer; `next` (the page's last symbol) when more follow: ask again with
    /// `"after"` set to it.
    case symbols(id: Int64?, symbols: [String], next: String? = nil)
    case pong(id: Int64?, timestamp: Timestamp)
    case heartbeat(timestamp: Timestamp)
    /// A symbol's state when a subscription starts; `epoch` is the numbering its `seq` belongs to.
    case snapshot(SymbolSnapshot, epoch: FeedEpoch? = nil)
    case update(Tick)
    /// The latest state of a symbol, sent in place of updates a slow client could not take. Same
    /// fields as `snapshot`; its `seq` jumps over the skipped updates, so the client sees the gap.
    case conflated(SymbolSnapshot)
    /// The top levels of a symbol's book at a subscription's depth: when a `book` subscription
    /// starts, and in place of `bookUpdate`s a slow client could not take (its `seq` then jumps over
    /// them). Either way the client replaces its book with it.
    case book(BookSnapshot)
    /// The levels that changed in a book stream, and the checksum after them.
    case bookUpdate(BookUpdate)
    /// A bar of a candle stream that changed (the open bar) or closed.
    case candle(CandleUpdate)
    /// Bars of a candle stream: when a `candles` subscription starts (the last closed bar and the
    /// open one), and in place of `candle`s a slow client could not take.
    case candles(CandleSnapshot)
    case stats(id: Int64?, counters: [(String, UInt64)])
    /// The answer to an `auth` request: the new token is in force until `expiresAt` (ms since the epoch).
    case authenticated(id: Int64?, expiresAt: Int64)
    /// The feed's state changed: `stale` (the hub lost its upstream and serves its last values,
    /// which may be old; `reason` says why) or `live` again. Sent to every subscriber at the change,
    /// and after `welcome` to one that connects while stale.
    case status(FeedCondition)

    public struct Welcome: Sendable, Equatable {
        public var heartbeatMs: Int
        public var maxSymbols: Int
        public var feed: String
        public var serverVersion: String
        /// The id of the hub's current zstd dictionary (`GET /v1/zstd/dictionary/{id}`), if it offers zstd.
        public var zstdDictionary: UInt32?
        /// When the connection's access token lapses (ms since the Unix epoch), if the hub uses tokens:
        /// send `{"op":"auth"}` with a fresh one before then.
        public var tokenExpiresAt: Int64?
        /// The numbering of this hub's seqs (`FeedEpoch`); a client resumes with `since` only within one.
        public var epoch: FeedEpoch?
        /// How many updates per symbol the hub keeps for recovery (`--history`); 0: none.
        public var history: Int

        public init(
            heartbeatMs: Int, maxSymbols: Int, feed: String, serverVersion: String, zstdDictionary: UInt32? = nil,
            tokenExpiresAt: Int64? = nil, epoch: FeedEpoch? = nil, history: Int = 0
        ) {
            self.epoch = epoch
            self.history = history
            self.heartbeatMs = heartbeatMs
            self.maxSymbols = maxSymbols
            self.feed = feed
            self.serverVersion = serverVersion
            self.zstdDictionary = zstdDictionary
            self.tokenExpiresAt = tokenExpiresAt
        }
    }

    /// How a `subscribe` with `since` went. Symbols named in `since` either had every missed update
    /// replayed (as ordinary updates, right after the ack) or, when the history no longer held them
    /// all (or the epoch changed), got a snapshot instead: those are `notRecovered`, and the
    /// snapshot's `seq` shows the gap.
    public struct Recovery: Sendable, Equatable {
        public var notRecovered: [String]
        public var recovered: Bool { notRecovered.isEmpty }

        public init(notRecovered: [String]) {
            self.notRecovered = notRecovered
        }
    }

    public static let protocolName = "tickerhub.v1"

    public static func == (lhs: ServerMessage, rhs: ServerMessage) -> Bool {
        switch (lhs, rhs) {
        case let (.welcome(a), .welcome(b)): return a == b
        case let (.ack(a1, a2, a3, a4, a5, a6, a7), .ack(b1, b2, b3, b4, b5, b6, b7)):
            return a1 == b1 && a2 == b2 && a3 == b3 && a4 == b4 && a5 == b5 && a6 == b6 && a7 == b7
        case let (.error(a), .error(b)): return a == b
        case let (.symbols(a1, a2, a3), .symbols(b1, b2, b3)): return a1 == b1 && a2 == b2 && a3 == b3
        case let (.pong(a1, a2), .pong(b1, b2)): return a1 == b1 && a2 == b2
        case let (.heartbeat(a), .heartbeat(b)): return a == b
        case let (.snapshot(a1, a2), .snapshot(b1, b2)): return a1 == b1 && a2 == b2
        case let (.conflated(a), .conflated(b)): return a == b
        case let (.update(a), .update(b)): return a == b
        case let (.book(a), .book(b)): return a == b
        case let (.bookUpdate(a), .bookUpdate(b)): return a == b
        case let (.candle(a), .candle(b)): return a == b
        case let (.candles(a), .candles(b)): return a == b
        case let (.authenticated(a1, a2), .authenticated(b1, b2)): return a1 == b1 && a2 == b2
        case let (.status(a), .status(b)): return a == b
        case let (.stats(a1, a2), .stats(b1, b2)):
            return a1 == b1 && a2.map(\.0) == b2.map(\.0) && a2.map(\.1) == b2.map(\.1)
        default: return false
        }
    }

    /// Appends the JSON text of the message to `buffer`.
    public func writeJSON(into buffer: inout ByteBuffer) {
        var json = JSONWriter(buffer: buffer)
        // Hand the storage to `json` so it is uniquely referenced while we append (no copy-on-write).
        // `ByteBuffer()` is a shared zero-capacity buffer, so this allocates nothing.
        buffer = ByteBuffer()
        json.beginObject()
        switch self {
        case .welcome(let welcome):
            json.field("type", "welcome")
            json.field("protocol", ServerMessage.protocolName)
            json.field("heartbeatMs", welcome.heartbeatMs)
            json.field("maxSymbols", welcome.maxSymbols)
            json.field("feed", welcome.feed)
            json.field("server", "tickerhub/\(welcome.serverVersion)")
            json.optionalField("zstdDictionary", welcome.zstdDictionary.map(Int64.init))
            if let expiresAt = welcome.tokenExpiresAt { json.field("tokenExpiresAt", expiresAt) }
            if let epoch = welcome.epoch { json.field("epoch", epoch.rawValue) }
            json.field("history", welcome.history)
        case let .ack(id, op, symbols, interval, recovery, channel, patterns):
            json.field("type", "ack")
            json.optionalField("id", id)
            json.field("op", op.rawValue)
            switch channel {
            case .ticks:
                break
            case .quotes:
                json.field("channel", "quotes")
            case .trades:
                json.field("channel", "trades")
            case .book(let depth):
                json.field("channel", "book")
                if let depth { json.field("depth", depth) }
            case .candles(let interval):
                json.field("channel", "candles")
                if let interval { json.field("interval", interval.rawValue) }
            }
            json.stringArray("symbols", symbols)
            if !patterns.isEmpty { json.stringArray("patterns", patterns) }
            if let interval { json.field("updateIntervalMs", interval.milliseconds) }
            if let recovery {
                json.field("recovered", recovery.recovered)
                if !recovery.recovered { json.stringArray("notRecovered", recovery.notRecovered) }
            }
        case .error(let error):
            json.field("type", "error")
            json.optionalField("id", error.id)
            json.field("code", error.code.rawValue)
            json.field("message", error.message)
            if let symbols = error.symbols { json.stringArray("symbols", symbols) }
        case let .symbols(id, symbols, next):
            json.field("type", "symbols")
            json.optionalField("id", id)
            json.stringArray("symbols", symbols)
            if let next { json.field("next", next) }
        case let .pong(id, timestamp):
            json.field("type", "pong")
            json.optionalField("id", id)
            json.field("ts", timestamp.nanosecondsSinceEpoch)
        case .heartbeat(let timestamp):
            json.field("type", "heartbeat")
            json.field("ts", timestamp.nanosecondsSinceEpoch)
        case let .snapshot(snapshot, epoch):
            json.field("type", "snapshot")
            json.snapshotFields(snapshot, details: true)
            if let epoch { json.field("epoch", epoch.rawValue) }
        case .conflated(let snapshot):
            json.field("type", "conflated")
            json.snapshotFields(snapshot)
        case .update(let tick):
            json.tickFields(tick)
        case .book(let snapshot):
            json.field("type", "book")
            json.bookFields(snapshot)
        case .bookUpdate(let update):
            json.field("type", "bookUpdate")
            json.bookUpdateFields(update)
        case .candle(let update):
            json.field("type", "candle")
            json.candleUpdateFields(update)
        case .candles(let snapshot):
            json.field("type", "candles")
            json.candleSnapshotFields(snapshot)
        case let .authenticated(id, expiresAt):
            json.field("type", "ack")
            json.optionalField("id", id)
            json.field("op", ClientMessage.Op.auth.rawValue)
            json.field("tokenExpiresAt", expiresAt)
        case .status(let condition):
            json.field("type", "status")
            switch condition {
            case .live:
                json.field("feed", "live")
            case .stale(let reason):
                json.field("feed", "stale")
                json.field("reason", reason)
            }
        case let .stats(id, counters):
            json.field("type", "stats")
            json.optionalField("id", id)
            json.key("counters")
            json.counterObject(counters)
        }
        json.endObject()
        buffer = json.buffer
    }

    /// The JSON text as a `String`; for tests, logs and the HTTP routes.
    public var jsonText: String {
        var buffer = ByteBuffer()
        writeJSON(into: &buffer)
        return String(buffer: buffer)
    }
}

extension TickBody {
    /// The update's `"type"` on the wire.
    public var typeName: StaticString {
        switch self {
        case .quote: "quote"
        case .trade: "trade"
        }
    }
}
