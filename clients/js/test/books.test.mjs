// The JavaScript client's books, bars, channels and patterns, against real hubs (TICKERHUB_BIN_DIR):
// every checksum verified, a book put out of step subscribed again and right after its snapshot,
// bars that backfill without a gap and agree with the hub's REST answer, a trades-only channel,
// and a pattern; and the pure parts against the examples of docs/PROTOCOL.md.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  Backoff, BookState, CandleSeries, TickerHubClient, bookChecksum, comparePrices, crc32,
} from "../tickerhub-client.js";
import { WebSocket, collect, eventually, sleep, startHub } from "./hubs.mjs";

const SYMBOLS = ["AAPL", "MSFT", "NVDA"];
const SECOND_NS = 1_000_000_000;

test("the checksum and the book follow the worked example of docs/PROTOCOL.md", () => {
  assert.equal(crc32("123456789"), 0xCBF43926);
  const book = new BookState("AAPL", 10);
  assert.equal(book.apply({ type: "book", symbol: "AAPL", depth: 10, seq: 41, ts: 1,
    bids: [["188.2200", "1200"], ["188.2100", "3400"]], asks: [["188.2400", "3500"]], checksum: 1294233952 }), true);
  assert.equal(book.apply({ type: "bookUpdate", symbol: "AAPL", depth: 10, seq: 42, ts: 2,
    bids: [["188.2200", "0"], ["188.2300", "300"]], asks: [], checksum: 3130502982 }), true);
  assert.deepEqual(book.bids, [["188.2300", "300"], ["188.2100", "3400"]]);
  assert.deepEqual([book.verified, book.mismatches, book.gaps], [2, 0, 0]);
  // A jump in seq: out of step, and updates are ignored until a snapshot.
  assert.equal(book.apply({ type: "bookUpdate", symbol: "AAPL", depth: 10, seq: 44, ts: 3, bids: [], asks: [], checksum: 0 }), false);
  assert.equal(book.apply({ type: "bookUpdate", symbol: "AAPL", depth: 10, seq: 45, ts: 4, bids: [], asks: [], checksum: 0 }), false);
  assert.deepEqual([book.inStep, book.gaps], [false, 1]);
  assert.equal(bookChecksum([], [["0.0500", "7"]]), crc32("5007"), "leading zeros and the point go");
});

test("a kept book sorts prices as decimals and stays at its depth", () => {
  assert.equal(comparePrices("9.99", "10.00"), -1);
  assert.equal(comparePrices("-1.5", "-1.25"), -1);
  assert.equal(comparePrices("1.10", "1.1"), 0);
  const asks = Array.from({ length: 10 }, (_, i) => [`${100 + i}.00`, "1"]);
  const book = new BookState("X", 10);
  book.apply({ type: "book", seq: 1, ts: 0, bids: [], asks, checksum: bookChecksum([], asks) });
  // A new best ask pushes the tenth out: the hub removes it first, then adds the new one.
  const after = [["99.50", "4"], ...asks.slice(0, 9)];
  assert.equal(book.apply({ type: "bookUpdate", seq: 2, ts: 0, bids: [], asks: [["109.00", "0"], ["99.50", "4"]],
    checksum: bookChecksum([], after) }), true);
  assert.deepEqual(book.asks, after);
});

test("bars merge live and backfilled by start, the newer seq winning", () => {
  const series = new CandleSeries("AAPL", "1s");
  const bar = (start, close, closed) => ({ start, open: "1.00", high: close, low: "1.00", close, volume: 1, trades: 1, closed });
  assert.equal(series.apply({ type: "candles", symbol: "AAPL", interval: "1s", seq: 5, bars: [bar(2 * SECOND_NS, "1.20", false)] }), 0);
  assert.equal(series.apply({ type: "candle", symbol: "AAPL", interval: "1s", seq: 8, ...bar(2 * SECOND_NS, "1.30", true) }), 2);
  // An older backfill names the live bar too: the live one stays; its older bars fill in.
  series.mergeBackfill({ seq: 6, bars: [bar(0, "0.90", true), bar(SECOND_NS, "0.95", true), bar(2 * SECOND_NS, "1.25", false)] });
  assert.deepEqual(series.ordered().map(b => b.close), ["0.90", "0.95", "1.30"]);
  series.trim(2);
  assert.deepEqual(series.ordered().map(b => b.start), [SECOND_NS, 2 * SECOND_NS]);
});

test("it verifies every book checksum of a busy hub, and a book put out of step is resynced", async () => {
  const hub = await startHub(["--symbols", SYMBOLS.join(","), "--rate", "600"]);
  const client = new TickerHubClient(hub.url, { WebSocket });
  const events = collect(client, "book");
  const resyncs = collect(client, "resync");
  try {
    await client.connect();
    const ack = await client.subscribeBook(SYMBOLS, { depth: 10 });
    assert.deepEqual([ack.channel, ack.depth, ack.symbols], ["book", 10, SYMBOLS]);
    assert.ok(await eventually(() => events.length >= 1000, 20_000), `${events.length} book messages`);
    for (const symbol of SYMBOLS) {
      const book = client.book(symbol);
      assert.equal(book.mismatches, 0);
      assert.equal(book.gaps, 0);
      assert.equal(book.snapshots, 1);
      assert.ok(book.bids.length === 10 && book.asks.length === 10, `${symbol}: ${book.bids.length}/${book.asks.length} levels`);
      assert.equal(comparePrices(book.bestBid[0], book.bestAsk[0]), -1, "a crossed book");
    }
    assert.equal(client.bookResyncs, 0);
    // A book that went wrong (here by hand, as a lost message would leave it): a level the hub never
    // had, between two ticks, so no update can cover it. The next update's checksum does not match,
    // the client subscribes again, and the fresh snapshot puts it right.
    const book = client.book("AAPL");
    book.bids.splice(1, 0, [book.bids[1][0].slice(0, -2) + "50", "7"]);
    book.bids.pop();
    assert.ok(await eventually(() => client.bookResyncs === 1 && client.book("AAPL").inStep && client.book("AAPL").snapshots === 2),
      JSON.stringify({ resyncs: client.bookResyncs, inStep: client.book("AAPL").inStep }));
    assert.equal(resyncs[0].symbol, "AAPL");
    const verified = client.book("AAPL").verified;
    assert.ok(await eventually(() => client.book("AAPL").verified > verified + 20));
    assert.equal(client.book("AAPL").mismatches, 1);
    // After a reconnect every book starts again from its snapshot.
    client.reconnect();
    assert.ok(await eventually(() => client.connections === 2 && SYMBOLS.every(s => client.book(s).inStep && client.book(s).snapshots >= 2)));
    assert.equal(client.bookResyncs, 1, "a reconnect is not a resync");
  } finally {
    client.close();
    await hub.stop();
  }
});

test("bars follow live, backfill without a gap, and are the hub's", async () => {
  const hub = await startHub(["--symbols", "AAPL,MSFT", "--rate", "400"]);
  const client = new TickerHubClient(hub.url, { WebSocket });
  const events = collect(client, "candle");
  try {
    await client.connect();
    await sleep(2500);   // history on the hub before this client came
    const ack = await client.subscribeCandles(["AAPL"], { interval: "1s" });
    assert.deepEqual([ack.channel, ack.interval], ["candles", "1s"]);
    assert.ok(await eventually(() => events.some(e => e.type === "candle" && e.data.closed)), "a bar closed live");
    const series = await client.backfillCandles("AAPL", { interval: "1s" });
    assert.equal(series, client.candles("AAPL", "1s"));
    assert.equal(events[0].type, "candles", "the subscription starts with the last closed bar and the open one");
    const bars = series.ordered();
    assert.ok(bars.length >= 3, `${bars.length} bars`);
    for (const bar of bars) {
      assert.equal(bar.start % SECOND_NS, 0);
      assert.ok(comparePrices(bar.low, bar.high) <= 0 && comparePrices(bar.low, bar.close) <= 0 && comparePrices(bar.close, bar.high) <= 0);
    }
    // No gap, and the hub's own bars: every bar the hub holds from the first held here on is held
    // here, and each closed one is the same bar.
    const rest = await (await fetch(`${hub.http}/v1/candles?symbol=AAPL&interval=1s`)).json();
    const held = new Map(bars.map(b => [b.start, b]));
    const since = rest.bars.filter(b => b.start >= bars[0].start && b.start <= bars[bars.length - 1].start);
    assert.ok(since.filter(b => b.closed).length >= 2);
    for (const bar of since) {
      assert.ok(held.has(bar.start), `the bar of ${bar.start} is missing`);
      if (bar.closed && held.get(bar.start).closed) assert.deepEqual(held.get(bar.start), bar);
    }
    await assert.rejects(client.backfillCandles("NOSUCH", { interval: "1s" }), error => error.code === "unknown_symbol");
    await assert.rejects(client.subscribeCandles(["AAPL"], { interval: "2m" }), TypeError);
  } finally {
    client.close();
    await hub.stop();
  }
});

test("a trades channel carries trades alone, and a pattern takes every symbol it matches", async () => {
  const hub = await startHub(["--symbols", "EUR/USD,EUR/JPY,GBP/USD,AAPL", "--rate", "400"]);
  const client = new TickerHubClient(hub.url, { WebSocket, backoff: new Backoff({ initialMs: 50, maxMs: 100 }) });
  const updates = collect(client);
  try {
    await client.connect();
    const ack = await client.subscribe(["AAPL"], { channel: "trades" });
    assert.equal(ack.channel, "trades");
    const patterned = await client.subscribe(["EUR/*"]);
    assert.deepEqual(patterned.patterns, ["EUR/*"]);
    assert.deepEqual([...patterned.symbols].sort(), ["EUR/JPY", "EUR/USD"]);
    assert.ok(await eventually(() => updates.filter(u => u.symbol === "AAPL" && u.type === "trade").length >= 5
      && updates.some(u => u.symbol === "EUR/USD" && u.type === "quote")));
    assert.ok(updates.filter(u => u.symbol === "AAPL").every(u => u.type === "snapshot" || u.type === "trade"));
    assert.ok(!updates.some(u => u.symbol === "GBP/USD"));
    assert.equal(client.state.get("AAPL").gaps, 0, "the trades channel numbers its trades without gaps");
    // Across a reconnect the channel and the pattern hold.
    client.reconnect();
    assert.ok(await eventually(() => client.connections === 2 && client.status === "connected"));
    const after = updates.length;
    assert.ok(await eventually(() => updates.slice(after).some(u => u.symbol === "AAPL" && u.type === "trade")
      && updates.slice(after).some(u => u.symbol === "EUR/JPY")));
    assert.ok(updates.slice(after).filter(u => u.symbol === "AAPL").every(u => u.type !== "quote"));
    // Leaving the pattern leaves its symbols.
    await client.unsubscribe(["EUR/*"]);
    await sleep(300);
    const quiet = updates.length;
    await sleep(500);
    assert.ok(!updates.slice(quiet).some(u => u.symbol.startsWith("EUR/")));
  } finally {
    client.close();
    await hub.stop();
  }
});
