// The rules a subscriber session goes by, each a plain value tested on a made-up clock: keep-alive,
// the request rate limit, and request pacing.
import Atomics
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

@testable import TickerHub

/// The keep-alive rules of a subscriber connection, step by step on a made-up clock.
struct ConnectionLivenessTests {
    let start = NIODeadline.uptimeNanoseconds(1_000_000_000)

    func at(_ seconds: Double) -> NIODeadline { start + .nanoseconds(Int64(seconds * 1e9)) }

    @Test func aHeartbeatGoesOutOnlyAfterTheChosenSilence() {
        var liveness = ConnectionLiveness(heartbeatInterval: .seconds(1), pingInterval: .seconds(30), now: start)
        let step1 = liveness.heartbeatDue(now: at(0.5), wroteSinceLastCheck: false, backlogFull: false)
        #expect(!step1)
        // Something went out at 0.9 s: the silence starts again from that check.
        let step2 = liveness.heartbeatDue(now: at(0.9), wroteSinceLastCheck: true, backlogFull: false)
        #expect(!step2)
        let step3 = liveness.heartbeatDue(now: at(1.5), wroteSinceLastCheck: false, backlogFull: false)
        #expect(!step3)
        let step4 = liveness.heartbeatDue(now: at(1.9), wroteSinceLastCheck: false, backlogFull: false)
        #expect(step4)
        let step5 = liveness.heartbeatDue(now: at(2.4), wroteSinceLastCheck: false, backlogFull: false)
        #expect(!step5)
        // A full backlog is not idle.
        let step6 = liveness.heartbeatDue(now: at(5), wroteSinceLastCheck: false, backlogFull: true)
        #expect(!step6)
    }

    @Test func noHeartbeatUnlessTheClientAskedForOne() {
        var liveness = ConnectionLiveness(heartbeatInterval: nil, pingInterval: .seconds(30), now: start)
        let step7 = liveness.heartbeatDue(now: at(3_600), wroteSinceLastCheck: false, backlogFull: false)
        #expect(!step7)
    }

    @Test func aSilentClientIsPingedThenGivenUpOn() {
        var liveness = ConnectionLiveness(heartbeatInterval: nil, pingInterval: .seconds(30), now: start)
        let step8 = liveness.pingAction(now: at(29), backlogFull: false, backlogBytes: { 0 })
        #expect(step8 == .none)
        let step9 = liveness.pingAction(now: at(31), backlogFull: false, backlogBytes: { 0 })
        #expect(step9 == .ping)
        let step10 = liveness.pingAction(now: at(45), backlogFull: false, backlogBytes: { 0 })
        #expect(step10 == .none, "one ping, then wait")
        let step11 = liveness.pingAction(now: at(62), backlogFull: false, backlogBytes: { 0 })
        #expect(step11 == .timedOut)
    }

    @Test func anAnswerOrADrainedBacklogCountsAsLife() {
        var liveness = ConnectionLiveness(heartbeatInterval: nil, pingInterval: .seconds(30), now: start)
        let step12 = liveness.pingAction(now: at(31), backlogFull: false, backlogBytes: { 0 })
        #expect(step12 == .ping)
        liveness.heardFrom(at: at(40))
        let step13 = liveness.pingAction(now: at(62), backlogFull: false, backlogBytes: { 0 })
        #expect(step13 == .none)
        let step14 = liveness.pingAction(now: at(71), backlogFull: false, backlogBytes: { 0 })
        #expect(step14 == .ping)
    }

    @Test func aClientThatIsBehindIsJudgedByTheBacklogRuleNotByPings() {
        var liveness = ConnectionLiveness(heartbeatInterval: nil, pingInterval: .seconds(30), now: start)
        // While the backlog is full: no ping (it would queue behind the backlog).
        let step15 = liveness.pingAction(now: at(31), backlogFull: true, backlogBytes: { 0 })
        #expect(step15 == .none)
        let step16 = liveness.pingAction(now: at(32), backlogFull: false, backlogBytes: { 8192 })
        #expect(step16 == .ping)
        // Unanswered, but the hub's backlog for it shrank: it reads, only behind. Not gone.
        let step17 = liveness.pingAction(now: at(70), backlogFull: false, backlogBytes: { 4096 })
        #expect(step17 == .none)
        let step18 = liveness.pingAction(now: at(101), backlogFull: false, backlogBytes: { 1024 })
        #expect(step18 == .none, "judged from its last progress, not from the ping")
        // No more progress for a whole interval: gone.
        let step19 = liveness.pingAction(now: at(132), backlogFull: false, backlogBytes: { 1024 })
        #expect(step19 == .timedOut)
    }

    /// A client that stopped reading once nothing new was queued for it (it unsubscribed everything,
    /// or the feed went quiet) holds a backlog that is neither empty nor full: neither the backlog
    /// rule nor an empty-backlog ping timeout ever reaped it, and it held its bytes forever.
    @Test func aHalfFullBacklogThatNeverDrainsIsGivenUpOn() {
        var liveness = ConnectionLiveness(heartbeatInterval: nil, pingInterval: .seconds(30), now: start)
        let ping = liveness.pingAction(now: at(31), backlogFull: false, backlogBytes: { 65_536 })
        #expect(ping == .ping)
        let later = liveness.pingAction(now: at(62), backlogFull: false, backlogBytes: { 65_536 + 16 })
        #expect(later == .timedOut)
    }
}

/// The request token bucket, on a made-up clock.
struct TokenBucketTests {
    @Test func aBurstIsFineAndSustainedAbuseIsNot() {
        let start = NIODeadline.uptimeNanoseconds(1_000_000_000)
        var limit = TokenBucket(perSecond: 10, burst: 5, now: start)
        var granted = 0
        for _ in 0..<20 where limit.take(now: start) { granted += 1 }
        #expect(granted == 5, "the burst, and nothing more at once")
        // A tenth of a second earns one more; a long pause refills only up to the burst.
        let later = start + .milliseconds(100)
        let oneMore = limit.take(now: later), noneLeft = limit.take(now: later)
        #expect(oneMore && !noneLeft)
        var afterPause = 0
        for _ in 0..<20 where limit.take(now: later + .seconds(60)) { afterPause += 1 }
        #expect(afterPause == 5)
    }
}

/// A connection's requests, a few answered per pass of its loop.
struct RequestPacingTests {
    func request(_ n: Int) -> ByteBuffer { ByteBuffer(string: "\(n)") }

    @Test func aFewPerPassTheRestInOrderLater() {
        var pacing = RequestPacing()
        var answered: [String] = []
        for n in 0..<20 {
            if let now = pacing.arrived(request(n)) { answered.append(String(buffer: now)) }
        }
        #expect(answered == (0..<RequestPacing.perPass).map(String.init))
        #expect(pacing.hasWaiting)
        let first = pacing.needsResume(), again = pacing.needsResume()
        #expect(first && !again, "one resume scheduled at a time")
        // A new read burst does not overtake what waits.
        pacing.passEnded()
        let late = pacing.arrived(request(20))
        #expect(late == nil)
        var batches: [[String]] = []
        while pacing.hasWaiting {
            batches.append(pacing.resume().map { String(buffer: $0) })
            _ = pacing.needsResume()
        }
        #expect(batches.allSatisfy { $0.count <= RequestPacing.perPass })
        #expect(batches.flatMap { $0 } == (RequestPacing.perPass...20).map(String.init))
    }

    @Test func closingDropsWhatWaits() {
        var pacing = RequestPacing()
        for n in 0..<20 { _ = pacing.arrived(request(n)) }
        pacing.drop()
        #expect(!pacing.hasWaiting && !pacing.needsResume())
    }
}

/// The request deadline on an embedded channel and its made-up clock (issue 24, item 2): counted
/// from a request's first byte, and, in a connection storm, patient with a connection whose first
/// byte the kernel is still resending.
struct RequestDeadlineTests {
    /// A connection with the deadline and its first-byte watch, as `ConnectionPipeline` builds it.
    func connection(waits: FirstByteWaits, timeouts: ManagedCounter) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        let deadline = RequestDeadline(timeout: .seconds(5), waits: waits) { timeouts.add() }
        try channel.pipeline.syncOperations.addHandler(deadline)
        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(HTTPRequestDecoder()), position: .first)
        try channel.pipeline.syncOperations.addHandler(FirstByteWatch(deadline: deadline), position: .first)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        return channel
    }

    @Test func aQuietHubClosesASilentConnectionAtTheTimeout() throws {
        let waits = FirstByteWaits(), timeouts = ManagedCounter()
        let silent = try connection(waits: waits, timeouts: timeouts)
        #expect(waits.count == 1)
        silent.embeddedEventLoop.advanceTime(by: .milliseconds(4_900))
        #expect(silent.isActive)
        silent.embeddedEventLoop.advanceTime(by: .milliseconds(200))
        #expect(!silent.isActive && timeouts.value == 1 && waits.count == 0)
    }

    @Test func aStormGivesASilentConnectionTheStormAllowanceThenClosesIt() throws {
        let waits = FirstByteWaits(), timeouts = ManagedCounter()
        for _ in 0..<FirstByteWaits.stormThreshold { waits.began() }  // thousands connecting at once
        let delayed = try connection(waits: waits, timeouts: timeouts)
        let silent = try connection(waits: waits, timeouts: timeouts)
        // The kernel resends the first one's request 8 s after its connection was accepted.
        delayed.embeddedEventLoop.advanceTime(by: .seconds(8))
        try delayed.writeInbound(ByteBuffer(string: "GET /healthz HTTP/1.1\r\n"))
        #expect(delayed.isActive && timeouts.value == 0)
        // From its first byte, the request has the usual timeout: a trickle is still slowloris.
        delayed.embeddedEventLoop.advanceTime(by: .milliseconds(5_100))
        #expect(!delayed.isActive && timeouts.value == 1)
        // The one that never says anything is held to the storm allowance, not forever.
        silent.embeddedEventLoop.advanceTime(by: FirstByteWaits.stormAllowance - .seconds(1))
        #expect(silent.isActive)
        silent.embeddedEventLoop.advanceTime(by: .seconds(2))
        #expect(!silent.isActive && timeouts.value == 2)
        #expect(waits.count == FirstByteWaits.stormThreshold)
    }
}

/// A counter a `@Sendable` timeout callback can bump in a test.
final class ManagedCounter: Sendable {
    private let count = ManagedAtomic(0)
    func add() { count.wrappingIncrement(ordering: .relaxed) }
    var value: Int { count.load(ordering: .relaxed) }
}

/// Issue 24, item 4: query values are fully percent-decoded, and pages on other origins may read the
/// REST market data and the assets, within `--allowed-origin`.
struct CrossOriginReadsTests {
    @Test func queryValuesArePercentDecoded() {
        #expect(HTTPRoutes.query(of: "/v1/snapshot?symbols=EUR%2FUSD%2CAAPL", "symbols") == "EUR/USD,AAPL")
        #expect(HTTPRoutes.query(of: "/v1/snapshot?symbols=BRK+B,x%2fy", "symbols") == "BRK B,x/y")
        #expect(HTTPRoutes.query(of: "/ws?heart%62eat=10", "heartbeat") == "10")
        // A % without two hex digits stays; bytes that are not UTF-8 become U+FFFD, never a crash.
        #expect(HTTPRoutes.query(of: "/x?a=100%&b=%zz%4", "a") == "100%")
        #expect(HTTPRoutes.query(of: "/x?a=100%&b=%zz%4", "b") == "%zz%4")
        #expect(HTTPRoutes.query(of: "/x?a=%FF%FE", "a") == "\u{FFFD}\u{FFFD}")
    }

    func head(_ method: HTTPMethod, _ uri: String, origin: String?, preflight: Bool = false) -> HTTPRequestHead {
        var head = HTTPRequestHead(version: .http1_1, method: method, uri: uri)
        if let origin { head.headers.add(name: "Origin", value: origin) }
        if preflight {
            head.headers.add(name: "Access-Control-Request-Method", value: "GET")
            head.headers.add(name: "Access-Control-Request-Headers", value: "authorization")
        }
        return head
    }

    @Test func anyOriginMayReadWithoutAListAndOnlyListedOnesWithOne() {
        let open = CrossOriginReads(origins: OriginPolicy(allowed: []))
        let listed = CrossOriginReads(origins: OriginPolicy(allowed: ["https://desk.example"]))
        let read = head(.GET, "/v1/snapshot?symbols=AAPL", origin: "https://desk.example")
        #expect(open.headers(for: read).first { $0.0 == "Access-Control-Allow-Origin" }?.1 == "*")
        #expect(listed.headers(for: read).first { $0.0 == "Access-Control-Allow-Origin" }?.1 == "https://desk.example")
        #expect(
            listed.headers(for: head(.GET, "/v1/symbols", origin: "https://evil.example")).allSatisfy {
                $0.0 != "Access-Control-Allow-Origin"
            })
        #expect(open.headers(for: head(.GET, "/assets/tickerhub-client.js", origin: "https://x.example")).count == 1)
        // Not market data or assets: the operator's figures, and the pages, stay same-origin.
        for path in ["/stats", "/metrics", "/", "/ops"] {
            #expect(open.headers(for: head(.GET, path, origin: "https://x.example")).isEmpty)
        }
        #expect(open.headers(for: head(.GET, "/v1/symbols", origin: nil)).isEmpty, "no Origin, no CORS")
    }

    @Test func aPreflightAllowsTheBearerTokenForAListedOrigin() {
        let listed = CrossOriginReads(origins: OriginPolicy(allowed: ["https://desk.example"]))
        let preflight = head(.OPTIONS, "/v1/snapshot", origin: "https://desk.example", preflight: true)
        #expect(CrossOriginReads.isPreflight(preflight))
        let (answer, headers) = listed.preflight(preflight)
        #expect(answer.status == .noContent)
        #expect(headers.contains { $0 == ("Access-Control-Allow-Headers", "Authorization") })
        #expect(headers.contains { $0 == ("Access-Control-Allow-Methods", "GET, HEAD") })
        let (refused, _) = listed.preflight(
            head(.OPTIONS, "/v1/snapshot", origin: "https://evil.example", preflight: true))
        #expect(refused.status == .forbidden)
        let (notReadable, _) = listed.preflight(
            head(.OPTIONS, "/stats", origin: "https://desk.example", preflight: true))
        #expect(notReadable.status == .forbidden)
    }
}
