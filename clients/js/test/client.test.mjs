// The JavaScript client in Node, with Debian's `ws` (NODE_PATH=/usr/share/nodejs), against real
// hubs it starts itself (TICKERHUB_BIN_DIR): reconnect across a hub restart with a re-base on the
// new epoch; recovery of every missed update after a dropped connection; gaps that agree with the
// hub's counters; a fatal close; the pure parts (state, backoff).
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, connect as connectTcp } from "node:net";
import { once } from "node:events";
import { Backoff, SymbolState, TickerHubClient, CloseCodes, TickerHubClosed } from "../tickerhub-client.js";
import { WebSocket, collect, freePort, sleep, startHub } from "./hubs.mjs";

const SYMBOLS = ["AAPL", "MSFT", "NVDA"];

test("the state counts jumps as missed updates, repeats as duplicates, and re-bases on a new epoch", () => {
  const state = new SymbolState("AAPL", "e1");
  assert.equal(state.apply({ type: "snapshot", symbol: "AAPL", seq: 10, ts: 1, epoch: "e1", bid: "1.00" }), 0);
  assert.equal(state.apply({ type: "quote", symbol: "AAPL", seq: 14, ts: 2, bid: "1.01", ask: "1.02", bidSize: 1, askSize: 1 }), 3);
  assert.equal(state.apply({ type: "trade", symbol: "AAPL", seq: 12, ts: 3, price: "1.01", size: 5 }), 0);
  assert.equal(state.duplicates, 1);
  assert.equal(state.apply({ type: "snapshot", symbol: "AAPL", seq: 2, ts: 4, epoch: "e2", bid: "2.00" }), 0);
  assert.deepEqual([state.seq, state.epoch, state.gaps, state.fields.bid], [2, "e2", 3, "2.00"]);
});

test("the backoff doubles to its cap with jitter and starts again after a reset", () => {
  const draws = [0, 1, 0.5, 1, 1];
  const backoff = new Backoff({ initialMs: 100, maxMs: 400, random: () => draws.shift() });
  assert.deepEqual([1, 2, 3, 4].map(() => backoff.nextDelay()), [50, 200, 300, 400]);
  backoff.reset();
  assert.equal(backoff.nextDelay(), 100);
});

test("it reconnects across a hub restart and re-bases from the new hub's snapshots", async () => {
  const port = await freePort();
  let hub = await startHub(["--symbols", SYMBOLS.join(","), "--rate", "200"], port);
  const client = new TickerHubClient(hub.url, { WebSocket, backoff: new Backoff({ initialMs: 100, maxMs: 500 }) });
  const updates = collect(client);
  const statuses = [];
  client.on("status", s => statuses.push(s));
  try {
    await client.connect();
    const oldEpoch = client.epoch;
    const ack = await client.subscribe(SYMBOLS);
    assert.deepEqual(ack.symbols, SYMBOLS);
    await sleep(800);
    assert.ok(updates.some(u => u.type === "quote" || u.type === "trade"));
    await hub.stop();
    hub = await startHub(["--symbols", SYMBOLS.join(","), "--rate", "200"], port);
    const restartedAt = updates.length;
    for (let i = 0; i < 50 && client.connections < 2; i++) await sleep(100);
    await sleep(1000);
    assert.equal(client.connections, 2);
    assert.notEqual(client.epoch, oldEpoch);
    assert.ok(statuses.some(s => s.status === "reconnecting" && s.code === CloseCodes.GOING_AWAY), JSON.stringify(statuses));
    const after = updates.slice(restartedAt);
    assert.deepEqual(new Set(after.filter(u => u.type === "snapshot").map(u => u.symbol)), new Set(SYMBOLS));
    assert.ok(after.filter(u => u.type === "snapshot").every(u => u.missed === 0), "a new epoch is not a gap");
    for (const symbol of SYMBOLS) assert.equal(client.state.get(symbol).epoch, client.epoch);
  } finally {
    client.close();
    await hub.stop();
  }
});

test("a dropped connection recovers every missed update, in order, without duplicates", async () => {
  const hub = await startHub(["--symbols", SYMBOLS.join(","), "--rate", "60", "--burst-every", "3", "--burst-for", "2",
    "--history", "2000"]);
  const witness = new TickerHubClient(hub.url, { WebSocket });
  const client = new TickerHubClient(hub.url, { WebSocket, backoff: new Backoff({ initialMs: 50, maxMs: 100 }) });
  const seen = collect(witness), got = collect(client);
  try {
    await witness.connect();
    await witness.subscribe(SYMBOLS);
    await client.connect();
    await client.subscribe(SYMBOLS);
    await sleep(1500);
    client.reconnect();
    await sleep(600);   // away while the burst goes on
    await client.ping();
    await sleep(2500);
    assert.equal(client.connections, 2);
    assert.deepEqual(client.recoveries, { recovered: 3, notRecovered: 0 });
    const reference = new Map(seen.filter(u => u.type !== "snapshot").map(u => [`${u.symbol}:${u.seq}`, u.data]));
    for (const symbol of SYMBOLS) {
      const mine = got.filter(u => u.symbol === symbol);
      assert.equal(mine.filter(u => u.type === "snapshot").length, 1, "recovery sends no second snapshot");
      const seqs = mine.map(u => u.seq);
      assert.deepEqual(seqs, seqs.map((_, i) => seqs[0] + i), `${symbol}: a gap or a duplicate`);
      // Updates, not the first snapshot: a snapshot and the update of the same seq differ in type.
      const compared = mine.filter(u => u.type !== "snapshot" && reference.has(`${symbol}:${u.seq}`));
      assert.ok(compared.length > mine.length / 2);
      for (const u of compared) assert.deepEqual(u.data, reference.get(`${symbol}:${u.seq}`));
      assert.equal(client.state.get(symbol).gaps, 0);
    }
  } finally {
    client.close();
    witness.close();
    await hub.stop();
  }
});

test("the gaps it counts equal the hub's dropped plus throttled, and a fatal close ends it", async () => {
  const hub = await startHub(["--symbols", "20", "--rate", "1000", "--max-requests-per-second", "1", "--request-burst", "4"]);
  const client = new TickerHubClient(hub.url, { WebSocket });
  const updates = collect(client);
  const closed = new Promise(resolve => client.on("closed", resolve));
  try {
    await client.connect();
    const ack = await client.subscribe(["AAPL", "MSFT"], { maxFrequency: 5 });
    assert.equal(ack.updateIntervalMs, 200);
    await sleep(2000);
    const counters = await client.stats();
    assert.ok(updates.every(u => u.type === "snapshot" || u.type === "conflated"));
    assert.ok(client.connectionMissed > 0);
    assert.equal(client.connectionMissed, counters.dropped + counters.throttled);
    // Requests faster than the hub allows: closed with 1008, which reconnecting cannot fix.
    for (let i = 0; i < 4; i++) client.ping().catch(() => {});
    const close = await closed;
    assert.equal(close.code, CloseCodes.POLICY_VIOLATION);
    assert.equal(client.status, "closed");
    await sleep(300);
    assert.equal(client.connections, 1);
  } finally {
    client.close();
    await hub.stop();
  }
});

test("given several hubs, it moves to the next when its hub goes away, and tells a stale feed", async () => {
  const first = await startHub(["--symbols", SYMBOLS.join(","), "--rate", "200"]);
  const second = await startHub(["--symbols", SYMBOLS.join(","), "--rate", "200"]);
  const client = new TickerHubClient([first.url, second.url], { WebSocket, backoff: new Backoff({ initialMs: 50, maxMs: 100 }) });
  const feeds = [];
  client.on("feed", f => feeds.push(f));
  try {
    await client.connect();
    await client.subscribe(SYMBOLS);
    assert.equal(client.url, first.url);
    const firstEpoch = client.epoch;
    await first.stop();
    for (let i = 0; i < 100 && !(client.connections === 2 && client.status === "connected"); i++) await sleep(50);
    assert.equal(client.connections, 2);
    assert.equal(client.url, second.url, "it moved to the next hub of its list");
    assert.notEqual(client.epoch, firstEpoch, "a simulating hub numbers on its own: the client re-based");
    const updates = collect(client);
    for (let i = 0; i < 100 && updates.length < 5; i++) await sleep(50);
    assert.ok(updates.length >= 5, "updates flow from the second hub");
    // A `status` message from the hub is the "feed" event and the `feed` property.
    client.receive(client.ws, { type: "status", feed: "stale", reason: "NATS lost" });
    assert.deepEqual(client.feed, { feed: "stale", reason: "NATS lost" });
    assert.deepEqual(feeds, [{ feed: "stale", reason: "NATS lost" }]);
  } finally {
    client.close();
    await first.stop();
    await second.stop();
  }
});

/** A `ws` WebSocket that sends an Origin, as a browser's does (the hub then refuses in-band). */
class BrowserLikeWebSocket extends WebSocket {
  constructor(url) { super(url, { origin: "http://127.0.0.1" }); }
}

test("a browser refused for its token learns why (4401) and connect() rejects; a full hub (4503) is retried", async () => {
  const secret = "integration-test-secret-32-bytes-or-more";
  const guarded = await startHub(["--symbols", "AAPL", "--rate", "10", "--auth-secret", secret]);
  const full = await startHub(["--symbols", "AAPL", "--rate", "10", "--max-connections", "1"]);
  const statuses = [];
  const refused = new TickerHubClient(guarded.url, { WebSocket: BrowserLikeWebSocket });
  const occupant = new TickerHubClient(full.url, { WebSocket });
  const waiting = new TickerHubClient(full.url, { WebSocket: BrowserLikeWebSocket, backoff: new Backoff({ initialMs: 50, maxMs: 200 }) });
  waiting.on("status", s => statuses.push(s));
  try {
    await assert.rejects(refused.connect(), error => error instanceof TickerHubClosed && error.code === CloseCodes.UNAUTHORIZED && /token/.test(error.reason));
    assert.equal(refused.status, "closed");
    await assert.rejects(refused.connect(), error => error.code === CloseCodes.UNAUTHORIZED, "and it stays refused");
    await occupant.connect();
    const connecting = waiting.connect();
    for (let i = 0; i < 100 && !statuses.some(s => s.code === CloseCodes.HUB_FULL); i++) await sleep(50);
    assert.ok(statuses.some(s => s.status === "reconnecting" && s.code === CloseCodes.HUB_FULL && s.reason === "server_full"), JSON.stringify(statuses));
    occupant.close();   // room again: the waiting client gets in
    await connecting;
    assert.equal(waiting.status, "connected");
  } finally {
    for (const client of [refused, occupant, waiting]) client.close();
    await guarded.stop();
    await full.stop();
  }
});

test("connect() waits through a hub that is not up yet", async () => {
  const port = await freePort();
  const client = new TickerHubClient(`ws://127.0.0.1:${port}/ws`, { WebSocket, backoff: new Backoff({ initialMs: 50, maxMs: 200 }) });
  const connecting = client.connect();
  await sleep(500);
  const hub = await startHub(["--symbols", "AAPL", "--rate", "10"], port);
  try {
    const welcome = await connecting;
    assert.equal(welcome.type, "welcome");
  } finally {
    client.close();
    await hub.stop();
  }
});

test("with heartbeats on, a half-open link shows as reconnecting within two heartbeats, and it reconnects", async () => {
  const hub = await startHub(["--symbols", "AAPL", "--rate", "1"]);
  // A TCP proxy that can go silent both ways while keeping its sockets open: a half-open link.
  let silent = false;
  const links = [];
  const proxy = createServer(client => {
    const upstream = connectTcp(hub.port, "127.0.0.1");
    const link = { client, upstream, silent: false };
    links.push(link);
    client.on("data", data => { if (!link.silent) upstream.write(data); });
    upstream.on("data", data => { if (!link.silent) client.write(data); });
    for (const socket of [client, upstream]) socket.on("error", () => {});
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
    if (silent) link.silent = true;
  }).listen(0, "127.0.0.1");
  await once(proxy, "listening");
  const client = new TickerHubClient(`ws://127.0.0.1:${proxy.address().port}/ws`, { WebSocket, heartbeatMs: 1000 });
  const statuses = [];
  client.on("status", s => statuses.push({ ...s, at: Date.now() }));
  try {
    await client.connect();
    await client.subscribe(["AAPL"]);
    const cutAt = Date.now();
    for (const link of links) link.silent = true;
    for (let i = 0; i < 100 && client.status === "connected"; i++) await sleep(50);
    const reconnecting = statuses.find(s => s.status === "reconnecting");
    assert.ok(reconnecting, JSON.stringify(statuses));
    assert.equal(reconnecting.code, CloseCodes.HEARTBEAT_MISSED);
    // Two intervals of silence, not fewer; then at most a watchdog tick (250 ms) and event-loop slack.
    assert.ok(reconnecting.at - cutAt >= 2000, `${reconnecting.at - cutAt} ms`);
    assert.ok(reconnecting.at - cutAt < 4000, `${reconnecting.at - cutAt} ms`);
    for (let i = 0; i < 100 && client.status !== "connected"; i++) await sleep(50);
    assert.equal(client.status, "connected", "a new connection through the proxy");
    assert.equal(client.connections, 2);
  } finally {
    client.close();
    for (const link of links) { link.client.destroy(); link.upstream.destroy(); }
    proxy.close();
    await hub.stop();
  }
});
