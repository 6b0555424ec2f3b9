import AccessControl
import FanoutEngine
import FeedModel
import FuzzSupport
import NIOCore
import NIOEmbedded

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// One input from libFuzzer: a script of what publishers and subscribers may do to the engine's
/// state, run on an embedded loop: update batches with any seqs (none, any `UInt64`, near the
/// limit, repeated), new symbols, new epochs; subscribes (with `since` at any seq, and a maximum
/// frequency), unsubscribes and disconnects; order book changes (any prices, scales and sizes,
/// whole books) and book subscriptions at every depth; sockets that fill and drain; time passing. And a
/// subscriber's session as its requests drive it: any request text, parsed by the hub's parser
/// (`ClientMessage`), carried out on the engine (subscribe with `since` and `maxFrequency`,
/// unsubscribe, ping, list, stats), and `auth` with any claims (`AccessControl`), whose grant then
/// decides what later subscribes may have.
///
/// After every step it checks what must hold whatever the script:
/// - nothing traps (no overflow, no out-of-range index, no unbounded allocation: ASan's limit);
/// - every subscriber receives each stream's seqs (a symbol's quotes and trades, or its book at a
///   depth) strictly rising, never one twice, within an epoch;
/// - the last-value cache never holds a seq above what the publisher could have numbered;
/// - a subscriber's counts never fall (they are what the client's gaps add up to).
@main
enum FuzzFanoutState {
    static func main() { FuzzerDriver.run(fuzzOne) }
}

/// The script's bytes, read one at a time (0 past the end).
struct Script {
    var bytes: UnsafeBufferPointer<UInt8>
    var position = 0
    var isEmpty: Bool { position >= bytes.count }
    mutating func byte() -> UInt8 {
        defer { position += 1 }
        return position < bytes.count ? bytes[position] : 0
    }
    mutating func uint64() -> UInt64 {
        (0..<8).reduce(0) { value, _ in value << 8 | UInt64(byte()) }
    }
}

/// A sink that records each frame's symbol and seq, and fills or drains when the script says.
final class CheckingSink: FrameSink {
    weak var subscriber: Subscriber?
    var isWritable = true {
        didSet { subscriber?.isWritable = isWritable }
    }
    /// The last seq seen per symbol, in this epoch.
    var lastSeq: [String: UInt64] = [:]

    func attach(_ subscriber: Subscriber) {
        self.subscriber = subscriber
        subscriber.isWritable = isWritable
    }

    func write(_ batch: ByteBuffer) {
        let frames = ServerFrames.split(batch)
        precondition(
            frames.reduce(0) { $0 + $1.readableBytes } == batch.readableBytes,
            "a frame cut short, or bytes after the last")
        for frame in frames { check(String(buffer: ServerFrames.payload(of: frame))) }
    }

    func flush() {}

    var connectionIsWritable: Bool { isWritable }

    /// The socket drains, and nobody is told (no writability event).
    func becomeWritableSilently() {
        let told = subscriber
        subscriber = nil
        isWritable = true
        subscriber = told
    }

    /// Updates, snapshots and latest values carry `"symbol":"X"` and `"seq":N`; book messages also
    /// `"depth":D`, and their stream is keyed `X#D`; candle messages `"interval":"I"`, keyed `X#I`.
    private func check(_ text: String) {
        let bytes = Array(text.utf8)
        guard var symbol = Self.field(Array(#""symbol":""#.utf8), in: bytes, until: UInt8(ascii: "\"")),
            let seqText = Self.field(Array(#""seq":"#.utf8), in: bytes, until: UInt8(ascii: ",")),
            let seq = UInt64(seqText)
        else { return }
        if let depth = Self.field(Array(#""depth":"#.utf8), in: bytes, until: UInt8(ascii: ",")) {
            symbol += "#" + depth
        }
        if let interval = Self.field(Array(#""interval":""#.utf8), in: bytes, until: UInt8(ascii: "\"")) {
            symbol += "#" + interval
        }
        if let last = lastSeq[symbol] {
            precondition(seq > last, "\(symbol): seq \(seq) after \(last): \(text)")
        }
        lastSeq[symbol] = seq
    }

    /// The text after `key` up to `end` (or a closing brace), if `key` is there. (No Foundation in a fuzz target.)
    private static func field(_ key: [UInt8], in text: [UInt8], until end: UInt8) -> String? {
        guard text.count >= key.count else { return nil }
        for start in 0...(text.count - key.count) where text[start..<start + key.count].elementsEqual(key) {
            let value = text[(start + key.count)...].prefix { $0 != end && $0 != UInt8(ascii: "}") }
            return String(decoding: value, as: UTF8.self)
        }
        return nil
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var script = Script(bytes: UnsafeBufferPointer(start: data, count: size))
    let loop = EmbeddedEventLoop()
    let directory = SymbolDirectory()
    let lastValues = LastValueCache(historyDepth: 16)
    let counters = FanoutCounters()
    let ring = BroadcastBuffer(capacity: 1 << 16)
    let demand = ChannelDemand(kinds: { directory.kinds(of: $0) })
    let publisher = TickPublisher(
        eventLoop: loop, buffer: ring, directory: directory, lastValues: lastValues, counters: counters,
        demand: demand)
    let fanout = LoopFanout(eventLoop: loop, buffer: ring, lastValues: lastValues, counters: counters, demand: demand)
    publisher.attach([fanout])
    var ids: [SymbolID] = []
    for name in ["AAPL", "MSFT", "EUR/USD"] { ids.append(directory.register(Symbol(name)!)!) }
    var clients: [(subscriber: Subscriber, sink: CheckingSink)?] = Array(repeating: nil, count: 4)
    /// What each client's last `auth` granted (everything until one is accepted).
    var grants = Array(repeating: SymbolEntitlement.everything, count: 4)
    var published: UInt64 = 0
    loop.run()

    func symbols(in mask: UInt8) -> [SymbolID] {
        ids.enumerated().filter { mask & (1 << UInt8($0.offset % 8)) != 0 }.map(\.element)
    }

    while !script.isEmpty {
        switch script.byte() % 10 {
        case 0:  // a batch of updates
            var updates: [FeedUpdate] = []
            for _ in 0..<Int(script.byte() % 24) {
                let id = ids[Int(script.byte()) % ids.count]
                let upstream: UInt64? =
                    switch script.byte() % 5 {
                    case 0: UInt64?.none
                    case 1: script.uint64()
                    case 2: Tick.maxSeq - UInt64(script.byte())
                    case 3: UInt64(script.byte())
                    default: (lastValues.snapshot(of: id)?.seq ?? 0) &+ UInt64(script.byte() % 4)
                    }
                let mantissa = Int64(bitPattern: script.uint64())
                let body: TickBody =
                    script.byte() % 2 == 0
                    ? .quote(
                        Quote(
                            bid: Price(mantissa: mantissa, scale: script.byte() % 19),
                            ask: Price(mantissa: mantissa, scale: 2),
                            bidSize: Int64(script.byte()), askSize: -1))
                    : .trade(Trade(price: Price(mantissa: mantissa, scale: script.byte() % 19), size: Int64.min))
                updates.append(
                    FeedUpdate(
                        symbolID: id, symbol: directory.symbol(for: id)!,
                        timestamp: Timestamp(nanosecondsSinceEpoch: script.uint64()), body: body, upstreamSeq: upstream)
                )
            }
            published += UInt64(updates.count)
            publisher.publishOnLoop(updates)
        case 1:  // subscribe, maybe resuming, maybe throttled
            let slot = Int(script.byte()) % clients.count
            if clients[slot] == nil {
                let sink = CheckingSink()
                clients[slot] = (Subscriber(sink: sink), sink)
            }
            let (subscriber, sink) = clients[slot]!
            let wanted = symbols(in: script.byte())
            // Quotes and trades: off the `quotes` and `trades` channels, as the hub's requests do.
            fanout.releaseCorked(subscriber)
            let leaving = wanted.flatMap { directory.channelStreams(of: $0)! }.filter {
                subscriber.isSubscribed(to: $0)
            }
            fanout.unsubscribe(subscriber, from: leaving)
            for id in leaving { sink.lastSeq[directory.symbol(for: id)!.name] = nil }
            let since: [UInt64?] = wanted.map { _ in script.byte() % 2 == 0 ? nil : script.uint64() }
            let interval = script.byte() % 3 == 0 ? UpdateInterval(maxFrequency: Double(script.byte() % 50) + 0.5) : nil
            let starts = fanout.subscribe(
                subscriber, to: wanted, symbols: wanted.map { directory.symbol(for: $0)! },
                updateInterval: interval, resumingAfter: since, replayLimit: Int(script.byte()))
            // What the session sends first: a replay, or the snapshot (checked for rising seqs too).
            for start in starts {
                precondition((start.replay?.count ?? 0) <= 255, "a replay past its limit")
                let lastSent = start.replay?.last?.seq ?? start.snapshot.seq
                if lastSent > 0 { sink.lastSeq[start.symbol.name] = lastSent }
            }
        case 2:  // unsubscribe
            if let (subscriber, sink) = clients[Int(script.byte()) % clients.count] {
                let gone = symbols(in: script.byte())
                fanout.unsubscribe(subscriber, from: gone)
                for id in gone { sink.lastSeq[directory.symbol(for: id)!.name] = nil }
            }
        case 3:  // the socket fills, or drains
            if let (subscriber, sink) = clients[Int(script.byte()) % clients.count] {
                sink.isWritable.toggle()
                if sink.isWritable { _ = fanout.catchUp(subscriber) }
            }
        case 4:  // a new epoch: every client is closed and comes back (the hub's 1012)
            publisher.beginEpoch(FeedEpoch.starting(at: Timestamp(nanosecondsSinceEpoch: script.uint64())))
            for slot in clients.indices {
                if let (subscriber, _) = clients[slot] { fanout.remove(subscriber) }
                clients[slot] = nil
                grants[slot] = .everything
            }
        case 5:  // a client disconnects
            let slot = Int(script.byte()) % clients.count
            if let (subscriber, _) = clients[slot] { fanout.remove(subscriber) }
            clients[slot] = nil
            grants[slot] = .everything
        case 8:  // a request, as a client sends it
            let slot = Int(script.byte()) % clients.count
            let text = (0..<Int(script.byte())).map { _ in script.byte() }
            if clients[slot] == nil {
                let sink = CheckingSink()
                clients[slot] = (Subscriber(sink: sink), sink)
            }
            let (subscriber, sink) = clients[slot]!
            let limits = ClientMessage.Limits(maxMessageBytes: 4096, maxSymbolsPerRequest: 32)
            guard case .success(let request) = ClientMessage.parse(text, limits: limits) else { break }
            switch request {
            case let .subscribe(_, names, interval, resume, channel):
                // What the session does before it answers: the frames corked so far go first.
                fanout.releaseCorked(subscriber)
                let granted = grants[slot].partition(names).allowed
                let known = directory.resolve(granted).known
                var seen = Set<SymbolID>()
                var wanted = known.filter { seen.insert($0.1).inserted }.map(\.1)
                var suffix = ""
                switch channel {
                case .ticks, .quotes, .trades:
                    // One of the three per symbol, as the hub's requests keep it; keyed by the name.
                    let families = wanted.map { [$0] + directory.channelStreams(of: $0)! }
                    let pick = channel == .ticks ? 0 : channel == .quotes ? 1 : 2
                    let leaving = families.flatMap { family in
                        family.enumerated().filter { $0.offset != pick }.map(\.element)
                    }
                    .filter { subscriber.isSubscribed(to: $0) }
                    fanout.unsubscribe(subscriber, from: leaving)
                    for id in leaving { sink.lastSeq[directory.symbol(for: id)!.name] = nil }
                    wanted = families.map { $0[pick] }
                case .book(let depth):
                    wanted = wanted.map { directory.bookStream(of: $0, depth: depth)! }
                    suffix = "#\(depth)"
                case .candles(let interval):
                    wanted = wanted.map { directory.candleStream(of: $0, interval: interval)! }
                    suffix = "#\(interval.rawValue)"
                }
                let since = wanted.map { resume?.lastSeqs[directory.symbol(for: $0)!.name] }
                let starts = fanout.subscribe(
                    subscriber, to: wanted, symbols: wanted.map { directory.symbol(for: $0)! },
                    updateInterval: interval, resumingAfter: since, replayLimit: 64)
                for start in starts {
                    precondition((start.replay?.count ?? 0) <= 64, "a replay past its limit")
                    let lastSent =
                        start.book?.seq ?? start.candles?.seq ?? start.replay?.last?.seq ?? start.snapshot.seq
                    if lastSent > 0 { sink.lastSeq[start.symbol.name + suffix] = lastSent }
                }
            case let .unsubscribe(_, names, channel):
                let known = directory.resolve(names).known
                switch channel {
                case .ticks, .quotes, .trades:
                    let pick = channel == .ticks ? 0 : channel == .quotes ? 1 : 2
                    fanout.unsubscribe(
                        subscriber, from: known.map { ([$0.1] + directory.channelStreams(of: $0.1)!)[pick] })
                    for (name, _) in known { sink.lastSeq[name] = nil }
                case .book(let depth):
                    for d in depth.map({ [$0] }) ?? OrderBook.depths {
                        fanout.unsubscribe(subscriber, from: known.map { directory.bookStream(of: $0.1, depth: d)! })
                        for (name, _) in known { sink.lastSeq[name + "#\(d)"] = nil }
                    }
                case .candles(let interval):
                    for i in interval.map({ [$0] }) ?? CandleInterval.allCases {
                        fanout.unsubscribe(
                            subscriber, from: known.map { directory.candleStream(of: $0.1, interval: i)! })
                        for (name, _) in known { sink.lastSeq[name + "#\(i.rawValue)"] = nil }
                    }
                }
            case .auth(_, let token):
                // The claims as a signed token would carry them (the signature is jwt-kit's).
                let now = 1_796_256_000.0
                guard let claims = try? JSONDecoder().decode(TokenClaims.self, from: Data(token.utf8)) else { break }
                if claims.check(now: now, audience: "tickerhub") == nil {
                    grants[slot] = claims.grant(now: now, monotonicNow: .uptimeNanoseconds(1_000_000_000)).symbols
                    // What the new grant no longer covers ends, as `revokeUngranted` does in the hub.
                    let revoked = subscriber.subscribedSymbols.filter {
                        !grants[slot].allows(directory.symbol(for: $0)!.name)
                    }
                    fanout.unsubscribe(subscriber, from: revoked)
                    for id in revoked { sink.lastSeq[directory.symbol(for: id)!.name] = nil }
                }
            case .list, .ping, .stats:
                _ = fanout.catchUp(subscriber)
            }
        case 9:  // a subscriber's stats, as the `stats` request reads them
            if let (subscriber, _) = clients[Int(script.byte()) % clients.count] {
                precondition(subscriber.staleCount >= 0 && subscriber.staleCount <= subscriber.subscriptionCount)
            }
        case 6:  // time passes; bars end by the trades' clock, which the script sets
            loop.advanceTime(by: .milliseconds(Int64(script.byte()) * 10))
            publisher.closeEndedBars(now: Timestamp(nanosecondsSinceEpoch: script.uint64()))
        default:
            if script.byte() % 2 == 0 {  // a new symbol
                if ids.count < 40, let id = directory.register(Symbol("S\(ids.count)")!) { ids.append(id) }
                break
            }
            // A batch of book changes: any prices, scales (another scale is refused) and sizes.
            var books: [BookFeedUpdate] = []
            for _ in 0..<Int(script.byte() % 8) {
                let id = ids[Int(script.byte()) % ids.count]
                var change = BookDelta()
                for _ in 0..<Int(script.byte() % 128) {
                    let price = Price(
                        mantissa: Int64(bitPattern: script.uint64()) >> Int64(script.byte() % 64),
                        scale: script.byte() % 3)
                    let size = script.byte() % 4 == 0 ? Int64(bitPattern: script.uint64()) : Int64(script.byte() % 3)
                    change[script.byte() % 2 == 0 ? .bid : .ask].append(PriceLevel(price: price, size: size))
                }
                books.append(
                    BookFeedUpdate(
                        symbolID: id, symbol: directory.symbol(for: id)!,
                        timestamp: Timestamp(nanosecondsSinceEpoch: script.uint64()), change: change,
                        replacesBook: script.byte() % 4 == 0))
            }
            publisher.publishOnLoop([], books: books)
        }
        loop.run()
        // The cache never holds a seq the publisher could not have numbered.
        for id in ids {
            if let seq = lastValues.snapshot(of: id)?.seq {
                precondition(seq <= Tick.maxSeq + published, "seq \(seq) out of range")
            }
        }
        precondition(counters.snapshot().ticksIn <= published)
    }
    // The feed goes quiet, and every full socket drains with no event (issue 24, item 1): within the
    // loop's owed checks and the longest maximum-frequency interval, every client holds the latest
    // seq of every symbol it follows.
    for case let (_, sink)? in clients { sink.becomeWritableSilently() }
    loop.advanceTime(by: .seconds(5))
    for case let (subscriber, sink)? in clients {
        for id in subscriber.subscribedSymbols {
            guard let latest = lastValues.latest(of: id), latest.seq > 0 else { continue }
            var name = directory.symbol(for: id)!.name
            switch directory.kind(of: id)! {
            case .ticks, .quotes, .trades: break
            case .book(let depth): name += "#\(depth)"
            case .candles(let interval): name += "#\(interval.rawValue)"
            }
            precondition(
                sink.lastSeq[name] == latest.seq,
                """
                \(name): the client ended at \(sink.lastSeq[name].map(String.init) ?? "nothing"), the latest is\
                 \(latest.seq)
                """
            )
        }
    }
    for slot in clients.indices {
        if let (subscriber, _) = clients[slot] { fanout.remove(subscriber) }
    }
    loop.run()
    try? loop.syncShutdownGracefully()
    return 0
}
