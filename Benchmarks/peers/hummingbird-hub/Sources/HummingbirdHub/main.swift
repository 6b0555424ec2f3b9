// A Hummingbird 2 WebSocket hub speaking the subset of tickerhub.v1 that `feedsim swarm` uses
// (welcome, list, subscribe with ack + snapshot, updates with per-symbol seq and ts in ns).
//
// Written the way the Hummingbird examples do it: one AsyncStream per connection that the
// publisher yields into, and a task per connection that writes
// each message with `outbound.write(.text(...))`. The stream keeps the newest 1,024 messages, so a
// slow client loses its oldest ones (counted as drops). The market is the tick script every server
// of a comparison replays (`feedsim ticks`, see Benchmarks/e2e/run.py): the same symbols, prices
// and messages as tickerhub's own simulator, RATE ticks/s generated every millisecond, each stamped
// with the time it was due (so a fan-out that falls behind shows as latency).
//
//   swift run -c release --package-path Benchmarks/peers/hummingbird-hub HummingbirdHub \
//       --port 18600 --rate 100 --ticks ticks.txt
import Foundation
import Hummingbird
import HummingbirdWebSocket
import Logging
import Synchronization

struct ClientRequest: Decodable {
    let op: String
    let id: Int?
    let symbols: [String]?
}

func nowNanos() -> UInt64 {
    var time = timespec()
    clock_gettime(CLOCK_REALTIME, &time)
    return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
}

/// One line of the tick script: "<type> <symbol index> <the update's fields after ts>".
struct ScriptedTick: Sendable {
    let type: String
    let index: Int
    let fields: String

    init(line: Substring) {
        let parts = line.split(separator: " ", maxSplits: 2)
        precondition(parts.count == 3, "bad tick script line \(line)")
        type = String(parts[0])
        index = Int(parts[1])!
        fields = String(parts[2])
    }
}

/// The market and who follows each symbol, under one lock, so a snapshot and the subscription it
/// starts are atomic with respect to publishing (no update can fall between them).
final class Hub: Sendable {
    typealias Outbox = AsyncStream<String>.Continuation

    struct State {
        var latestQuote: [String]
        var lastTs: [UInt64]
        var seq: [Int]
        var subscribers: [[Int: Outbox]]
    }

    let names: [String]
    let index: [String: Int]
    /// The script's ticks, replayed from the start when they run out.
    let ticks: [ScriptedTick]
    let state: Mutex<State>
    let deliveries = Atomic<Int>(0)
    let drops = Atomic<Int>(0)
    let nextConnection = Atomic<Int>(0)

    /// Loads the script: "symbols A B ...", one opening quote per symbol, then the ticks.
    init(script path: String) throws {
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        names = lines[0].split(separator: " ").dropFirst().map(String.init)
        index = Dictionary(uniqueKeysWithValues: names.enumerated().map { ($1, $0) })
        ticks = lines.dropFirst(1 + names.count).map(ScriptedTick.init(line:))
        let count = names.count
        state = Mutex(
            State(
                latestQuote: lines[1...count].map { ScriptedTick(line: $0).fields },
                lastTs: Array(repeating: 0, count: count),
                seq: Array(repeating: 1, count: count),
                subscribers: Array(repeating: [:], count: count)))
    }

    /// Protocol v1 puts "type" first and then symbol, seq and ts, and JSONEncoder on Linux does not
    /// keep key order, so the update is written with string interpolation, as a Swift developer
    /// would to meet a wire format (requests are still decoded with JSONDecoder).
    func message(_ i: Int, _ state: State, type: String, ts: UInt64, fields: String) -> String {
        #"{"type":"\#(type)","symbol":"\#(names[i])","seq":\#(state.seq[i]),"ts":\#(ts),\#(fields)}"#
    }

    func subscribe(_ symbols: [String], connection: Int, outbox: Outbox) {
        state.withLock { state in
            for name in symbols {
                guard let i = index[name], state.subscribers[i][connection] == nil else { continue }
                state.subscribers[i][connection] = outbox
                let ts = state.lastTs[i] > 0 ? state.lastTs[i] : nowNanos()
                outbox.yield(message(i, state, type: "snapshot", ts: ts, fields: state.latestQuote[i]))
            }
        }
    }

    func remove(connection: Int) {
        state.withLock { state in
            for i in state.subscribers.indices { state.subscribers[i][connection] = nil }
        }
    }

    /// Publishes ticks `first..<first + count`; tick n was due at `start + n / rate` and carries that
    /// time as its ts, so falling behind schedule shows as latency.
    func publish(ticks first: Int, count: Int, start: UInt64, ticksPerSecond: Double) {
        state.withLock { state in
            for n in first..<(first + count) {
                let due = start + UInt64(Double(n + 1) / ticksPerSecond * 1e9)
                let tick = ticks[n % ticks.count]
                let i = tick.index
                state.seq[i] += 1
                state.lastTs[i] = due
                if tick.type == "quote" { state.latestQuote[i] = tick.fields }
                guard !state.subscribers[i].isEmpty else { continue }
                let text = message(i, state, type: tick.type, ts: due, fields: tick.fields)
                for outbox in state.subscribers[i].values {
                    if case .dropped = outbox.yield(text) { drops.add(1, ordering: .relaxed) }
                }
                deliveries.add(state.subscribers[i].count, ordering: .relaxed)
            }
        }
    }

    func runMarket(ticksPerSecond: Double) async throws {
        let start = nowNanos()
        var published = 0
        while true {
            try await Task.sleep(for: .milliseconds(1))
            let due = Int(Double(nowNanos() - start) / 1e9 * ticksPerSecond) - published
            if due > 0 {
                publish(ticks: published, count: due, start: start, ticksPerSecond: ticksPerSecond)
                published += due
            }
        }
    }
}

/// A reply with "type" first, as protocol v1 requires; the symbol list goes through JSONEncoder.
func reply(_ type: String, id: Int?, op: String? = nil, symbols: [String]) -> String {
    let list = String(decoding: try! JSONEncoder().encode(symbols), as: UTF8.self)
    return
        #"{"type":"\#(type)","id":\#(id.map(String.init) ?? "null")\#(op.map { #","op":"\#($0)""# } ?? ""),"symbols":\#(list)}"#
}

let arguments = Dictionary(
    uniqueKeysWithValues: stride(from: 1, to: CommandLine.arguments.count - 1, by: 2).map {
        (CommandLine.arguments[$0].replacingOccurrences(of: "--", with: ""), CommandLine.arguments[$0 + 1])
    })
let port = Int(arguments["port"] ?? "18600")!
let rate = Double(arguments["rate"] ?? "100")!
guard let script = arguments["ticks"] else {
    fatalError("--ticks FILE is required (feedsim ticks --out FILE writes one)")
}
let hub = try Hub(script: script)

let router = Router()
router.get("/") { _, _ in
    "{\"deliveries\":\(hub.deliveries.load(ordering: .relaxed)),\"drops\":\(hub.drops.load(ordering: .relaxed))}"
}

let webSocketRouter = Router(context: BasicWebSocketRequestContext.self)
webSocketRouter.ws("/ws") { inbound, outbound, _ in
    let connection = hub.nextConnection.add(1, ordering: .relaxed).newValue
    let (messages, outbox) = AsyncStream.makeStream(of: String.self, bufferingPolicy: .bufferingNewest(1024))
    outbox.yield(#"{"type":"welcome","protocol":"tickerhub.v1","heartbeatMs":1000}"#)
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask {
            for await text in messages { try await outbound.write(.text(text)) }
        }
        for try await message in inbound.messages(maxSize: 1 << 16) {
            guard case .text(let text) = message,
                let request = try? JSONDecoder().decode(ClientRequest.self, from: Data(text.utf8))
            else { continue }
            switch request.op {
            case "list":
                outbox.yield(reply("symbols", id: request.id, symbols: hub.names))
            case "subscribe":
                outbox.yield(reply("ack", id: request.id, op: "subscribe", symbols: request.symbols ?? []))
                hub.subscribe(request.symbols ?? [], connection: connection, outbox: outbox)
            default:
                break
            }
        }
        hub.remove(connection: connection)
        outbox.finish()
        try await group.waitForAll()
    }
}

var logger = Logger(label: "hummingbird-hub")
logger.logLevel = .warning
let app = Application(
    router: router,
    server: .http1WebSocketUpgrade(webSocketRouter: webSocketRouter),
    configuration: .init(address: .hostname("127.0.0.1", port: port), backlog: 4096),
    logger: logger
)
print("hummingbird hub on \(port), \(hub.names.count) symbols, \(rate) ticks/s")
try await withThrowingTaskGroup(of: Void.self) { group in
    group.addTask { try await hub.runMarket(ticksPerSecond: rate) }
    group.addTask { try await app.runService() }
    try await group.next()  // the application stopped (SIGTERM or SIGINT): stop the market too
    group.cancelAll()
}
