// TickerHub client (protocol tickerhub.v1, docs/PROTOCOL.md): one ES module, no dependencies, for
// browsers and for Node (pass Debian's `ws` as the `WebSocket` option; Node 22 has one built in).
//
// It keeps one logical subscription alive across connections: it reconnects with jittered
// exponential backoff, subscribes again to everything it had with `since` and `epoch` (so a hub
// with --history replays what was missed), re-bases from snapshots after a hub restart (a new
// epoch), and counts every update it never saw as a gap, per symbol and per connection (the latter
// equals the hub's `dropped + throttled` for the connection: check it with `stats()`).
//
//   const hub = new TickerHubClient("ws://127.0.0.1:8080/ws");
//   hub.on("update", u => console.log(u.symbol, u.seq, u.missed, u.state.fields));
//   await hub.connect();
//   await hub.subscribe(["AAPL", "MSFT"], { maxFrequency: 4 });
//
// Beside quotes and trades it follows order books (every checksum verified, a book out of step
// subscribed again for a fresh snapshot), bars (live, plus a REST backfill merged without a gap),
// the `quotes` and `trades` channels, and patterns (`"EUR/*"`, `"*"`).
//
//   hub.on("book", b => draw(b.book.bids, b.book.asks));
//   await hub.subscribeBook(["AAPL"], { depth: 10 });
//   await hub.subscribeCandles(["AAPL"], { interval: "1m" });
//   const series = await hub.backfillCandles("AAPL", { interval: "1m" });
import { BookState, CandleSeries } from "./tickerhub-books.js";

export { BookState, CandleSeries, bookChecksum, comparePrices, crc32 } from "./tickerhub-books.js";

/** Close codes the hub uses, and which of them end the client rather than reconnect it. */
export const CloseCodes = Object.freeze({
  NORMAL: 1000, GOING_AWAY: 1001, PROTOCOL_ERROR: 1002, UNSUPPORTED_DATA: 1003, ABNORMAL: 1006,
  INVALID_PAYLOAD: 1007, POLICY_VIOLATION: 1008, MESSAGE_TOO_BIG: 1009, INTERNAL_ERROR: 1011,
  SERVICE_RESTART: 1012, TOKEN_EXPIRED: 4001, SLOW_CONSUMER: 4008,
  // A browser's handshake the hub refused: 4000 + the HTTP status it would have answered (a page
  // cannot read an HTTP refusal; it would see 1006). The reason is the refusal's code.
  UNAUTHORIZED: 4401, FORBIDDEN: 4403, TOO_MANY_REQUESTS: 4429, HUB_FULL: 4503,
  // Not the hub's: this client gave up on a connection that sent nothing for two heartbeats.
  HEARTBEAT_MISSED: 4900,
});
// Connecting again would only be refused again. 4401 too, unless a tokenProvider can give a new token.
const FATAL_CLOSE_CODES = new Set([1002, 1003, 1007, 1008, 1009, 1010, 4403]);

/** The hub closed this client for good (a fatal close code); `connect()` rejects with it. */
export class TickerHubClosed extends Error {
  constructor(code, reason) {
    super(`closed by the hub with ${code}${reason ? `: ${reason}` : ""}`);
    this.code = code;
    this.reason = reason;
  }
}
const UPDATE_TYPES = new Set(["quote", "trade"]);
const MARKET_TYPES = new Set(["quote", "trade", "snapshot", "conflated"]);
const CHANNELS = new Set([null, "quotes", "trades"]);
const BOOK_DEPTHS = new Set([10, 25, 100]);
const CANDLE_INTERVALS = new Set(["1s", "1m", "5m", "1h"]);

/** Whether `symbol` is `name`, or matches it as a pattern (a name ending in `*`). */
function matches(name, symbol) {
  return name === symbol || (name.endsWith("*") && symbol.startsWith(name.slice(0, -1)));
}

/** A request's `error` answer. */
export class TickerHubError extends Error {
  constructor(message) {
    super(`${message.code}: ${message.message}`);
    this.code = message.code;
    this.symbols = message.symbols || [];
    this.answer = message;
  }
}

/** The connection a request went out on closed before its answer. */
export class ConnectionLost extends Error {
  constructor() { super("connection lost before the answer"); }
}

/** One symbol as this client holds it: latest fields, seq, epoch, and the updates never seen. */
export class SymbolState {
  constructor(symbol, epoch = null) {
    this.symbol = symbol;
    this.seq = 0;
    this.epoch = epoch;
    this.fields = {};
    this.gaps = 0;
    this.duplicates = 0;
  }

  /** Folds a market message in; returns how many updates were missed just before it. */
  apply(m) {
    if (m.type === "snapshot" && m.epoch !== undefined && m.epoch !== this.epoch) {
      // Another numbering (a hub restart): the old seq says nothing, so re-base without a gap.
      this.epoch = m.epoch;
      this.seq = m.seq;
      this.fields = stateFields(m);
      return 0;
    }
    if (this.seq && m.seq <= this.seq) {
      if (UPDATE_TYPES.has(m.type)) this.duplicates++;
      return 0;
    }
    const missed = this.seq ? Math.max(0, m.seq - this.seq - 1) : 0;
    this.gaps += missed;
    this.seq = m.seq;
    if (m.type === "snapshot" || m.type === "conflated") {
      this.fields = stateFields(m);
    } else if (m.type === "quote") {
      Object.assign(this.fields, { bid: m.bid, ask: m.ask, bidSize: m.bidSize, askSize: m.askSize });
    } else if (m.type === "trade") {
      this.fields.last = m.price;
      this.fields.lastSize = m.size;
      if (this.fields.open === undefined) this.fields.open = m.price;
    }
    this.fields.ts = m.ts;
    return missed;
  }
}

function stateFields(m) {
  const { type, symbol, seq, epoch, ...fields } = m;
  return fields;
}

/** Exponential backoff, capped, with "equal jitter": half fixed, half random. */
export class Backoff {
  constructor({ initialMs = 500, maxMs = 30_000, random = Math.random } = {}) {
    Object.assign(this, { initialMs, maxMs, random, attempts: 0 });
  }
  nextDelay() {
    const ceiling = Math.min(this.maxMs, this.initialMs * 2 ** this.attempts++);
    return ceiling / 2 + this.random() * ceiling / 2;
  }
  reset() { this.attempts = 0; }
}

export class TickerHubClient {
  /**
   * @param url `ws://host:port/ws` (or `wss://`), or several hubs of a cluster: the client starts on
   *   the first and moves to the next each time it must reconnect.
   * @param options `WebSocket` (constructor; default the global one), `token` or `tokenProvider`
   *   (a function returning a token or a promise of one), `heartbeatMs`, `backoff` (a `Backoff`).
   */
  constructor(url, { WebSocket: Impl = globalThis.WebSocket, token = null, tokenProvider = null, heartbeatMs = null,
    backoff = new Backoff() } = {}) {
    if (!Impl) throw new Error("no WebSocket: pass the `ws` package as the WebSocket option");
    this.urls = Array.isArray(url) ? [...url] : [url];
    if (this.urls.length === 0) throw new Error("at least one hub URL");
    this.urlIndex = 0;
    Object.assign(this, { Impl, token, tokenProvider, heartbeatMs, backoff });
    /** "live", or "stale" while the hub says its feed lost its upstream (a `status` message). */
    this.feed = { feed: "live", reason: null };
    /** @type {Map<string, SymbolState>} */
    this.state = new Map();
    this.welcome = null;
    this.connections = 0;
    this.connectionMissed = 0;
    this.lastClose = null;
    this.recoveries = { recovered: 0, notRecovered: 0 };
    this.status = "idle";
    this.desired = new Map();    // symbol or pattern -> maxFrequency (null: every update)
    this.channels = new Map();   // symbol or pattern -> "quotes" | "trades", for those off the default channel
    this.desiredBooks = new Map();     // depth -> Set of symbols and patterns
    this.desiredCandles = new Map();   // interval -> Set of symbols and patterns
    /** @type {Map<string, BookState>} `${symbol}@${depth}` -> the book held, checked at every message */
    this.books = new Map();
    /** @type {Map<string, CandleSeries>} `${symbol}@${interval}` -> the bars held */
    this.candleSeries = new Map();
    /** Books subscribed again because a seq jumped or a checksum did not match. */
    this.bookResyncs = 0;
    this.pending = new Map();    // request id -> { resolve, reject }
    this.listeners = new Map();
    this.nextId = 1;
    this.ws = null;
    this.closed = false;
    this.ready = null;
    this.newReady();
  }

  get epoch() { return this.welcome ? this.welcome.epoch ?? null : null; }

  /** The hub this client is (or will next be) connected to. */
  get url() { return this.urls[this.urlIndex]; }

  /** The WebSocket extensions of the current connection (permessage-deflate, when negotiated). */
  get extensions() { return this.ws ? this.ws.extensions || "" : ""; }

  /** Listens to "update", "welcome", "status" (the connection's), "feed" (the hub's feed went stale
   * or live), "error" (unsolicited errors) or "closed". */
  on(event, handler) {
    if (!this.listeners.has(event)) this.listeners.set(event, new Set());
    this.listeners.get(event).add(handler);
    return () => this.listeners.get(event).delete(handler);
  }

  emit(event, value) {
    for (const handler of this.listeners.get(event) || []) {
      try { handler(value); } catch (error) { console.error(`TickerHubClient ${event} handler:`, error); }
    }
  }

  /** Connects (and keeps reconnecting); resolves with the first `welcome`, or rejects with
   * `TickerHubClosed` when the hub refuses the client for good (4401 without a tokenProvider, 4403,
   * a protocol error). Refusals worth retrying (4429, 4503, a lost connection) back off and retry. */
  connect() {
    if (this.closed && this.lastClose) return Promise.reject(new TickerHubClosed(this.lastClose.code, this.lastClose.reason));
    if (!this.ws && !this.timer) this.open();
    return this.ready.promise.then(() => this.welcome);
  }

  close() {
    this.closed = true;
    clearTimeout(this.timer);
    clearTimeout(this.refreshTimer);
    clearInterval(this.watchdog);
    if (!this.ready.settled) this.ready.reject(new TickerHubClosed(1000, "closed by the client"));
    if (this.ws) this.ws.close(1000, "closed by the client");
    this.failPending(new ConnectionLost());
    this.setStatus("closed", { code: 1000 });
  }

  /** Drops the connection and reconnects at once, recovering what it missed meanwhile. */
  reconnect() {
    this.backoff.reset();
    if (this.ws) this.ws.close(1000, "reconnecting");
  }

  /** Whether `symbol` is among the subscriptions the client keeps (asked for, and not unsubscribed). */
  isSubscribed(symbol) { return this.desired.has(symbol); }

  /** Subscribes (kept across reconnects); resolves with the ack. Split to the hub's `maxSymbols`.
   * `channel` is null (quotes and trades), "quotes" or "trades"; a name ending in `*` is a pattern,
   * which takes every symbol it matches, and those that appear later. */
  async subscribe(symbols, { maxFrequency = null, channel = null } = {}) {
    if (!CHANNELS.has(channel)) throw new TypeError("channel is null, \"quotes\" or \"trades\" (books and bars: subscribeBook, subscribeCandles)");
    for (const symbol of symbols) {
      this.desired.set(symbol, maxFrequency);
      if (channel === null) this.channels.delete(symbol); else this.channels.set(symbol, channel);
      this.state.delete(symbol);   // another channel numbers its own: start from its snapshot
    }
    const request = { op: "subscribe" };
    if (channel !== null) request.channel = channel;
    if (maxFrequency !== null) request.maxFrequency = maxFrequency;
    return this.chunked(request, symbols);
  }

  /** Each symbol leaves the channel it is on (one request per channel); resolves with the last ack. */
  async unsubscribe(symbols) {
    const byChannel = new Map();
    for (const symbol of symbols) {
      const channel = this.channels.get(symbol) ?? null;
      if (!byChannel.has(channel)) byChannel.set(channel, []);
      byChannel.get(channel).push(symbol);
      this.desired.delete(symbol); this.channels.delete(symbol);
      for (const held of [...this.state.keys()]) if (matches(symbol, held)) this.state.delete(held);
    }
    let ack = null;
    for (const [channel, names] of byChannel) {
      ack = await this.chunked(channel === null ? { op: "unsubscribe" } : { op: "unsubscribe", channel }, names);
    }
    return ack ?? this.chunked({ op: "unsubscribe" }, []);
  }

  /** Follows the order books of `symbols` at `depth` (10, 25 or 100): each message's checksum is
   * verified, "book" events carry the book in step, and a book that falls out of step (a seq jump,
   * a checksum that does not match) is subscribed again for a fresh snapshot (`bookResyncs`). */
  async subscribeBook(symbols, { depth = 10 } = {}) {
    if (!BOOK_DEPTHS.has(depth)) throw new TypeError("depth is 10, 25 or 100");
    if (!this.desiredBooks.has(depth)) this.desiredBooks.set(depth, new Set());
    for (const symbol of symbols) this.desiredBooks.get(depth).add(symbol);
    return this.chunked({ op: "subscribe", channel: "book", depth }, symbols);
  }

  async unsubscribeBook(symbols, { depth = 10 } = {}) {
    for (const symbol of symbols) {
      this.desiredBooks.get(depth)?.delete(symbol);
      for (const [key, book] of this.books) if (book.depth === depth && matches(symbol, book.symbol)) this.books.delete(key);
    }
    return this.chunked({ op: "unsubscribe", channel: "book", depth }, symbols);
  }

  /** The book held for `symbol` at `depth`, if any (check its `inStep`). */
  book(symbol, depth = 10) { return this.books.get(`${symbol}@${depth}`); }

  /** Follows the bars of `symbols` at `interval` (1s, 1m, 5m, 1h): "candle" events, and
   * `candles(symbol, interval)`; `backfillCandles` adds their history. */
  async subscribeCandles(symbols, { interval = "1m" } = {}) {
    if (!CANDLE_INTERVALS.has(interval)) throw new TypeError("interval is 1s, 1m, 5m or 1h");
    if (!this.desiredCandles.has(interval)) this.desiredCandles.set(interval, new Set());
    for (const symbol of symbols) this.desiredCandles.get(interval).add(symbol);
    return this.chunked({ op: "subscribe", channel: "candles", interval }, symbols);
  }

  async unsubscribeCandles(symbols, { interval = "1m" } = {}) {
    for (const symbol of symbols) {
      this.desiredCandles.get(interval)?.delete(symbol);
      for (const [key, series] of this.candleSeries) {
        if (series.interval === interval && matches(symbol, series.symbol)) this.candleSeries.delete(key);
      }
    }
    return this.chunked({ op: "unsubscribe", channel: "candles", interval }, symbols);
  }

  /** The bars held for `symbol` at `interval`, if any. */
  candles(symbol, interval = "1m") { return this.candleSeries.get(`${symbol}@${interval}`); }

  /** Adds the hub's last `limit` bars (`GET /v1/candles`, 1 to 300) to `candles(symbol, interval)`
   * and resolves with that series. Subscribe first, then backfill: the two merge by bar start,
   * without a gap. */
  async backfillCandles(symbol, { interval = "1m", limit = 300 } = {}) {
    const url = this.httpURL("/v1/candles");
    url.search = new URLSearchParams({ symbol, interval, limit: String(limit) }).toString();
    const response = await fetch(url, this.token ? { headers: { Authorization: `Bearer ${this.token}` } } : {});
    const body = await response.text();
    let answer = null;
    try { answer = JSON.parse(body); } catch { /* a refusal in plain text */ }
    if (!response.ok || !answer) {
      throw new TickerHubError(answer && answer.code ? answer : { code: `http_${response.status}`, message: body || response.statusText });
    }
    const series = this.seriesFor(symbol, interval);
    series.mergeBackfill(answer);
    return series;
  }

  /** A REST route of the hub this client connects to: `ws://host/ws` gives `http://host{path}`. */
  httpURL(path) {
    const url = new URL(this.url, globalThis.location ? globalThis.location.href : undefined);
    url.protocol = url.protocol === "wss:" ? "https:" : "http:";
    url.pathname = path;
    url.search = "";
    return url;
  }

  /** This connection's counters at the hub: delivered, dropped, throttled, conflated, ... */
  async stats() { return (await this.request({ op: "stats" })).counters; }

  async ping() { const started = Date.now(); await this.request({ op: "ping" }); return Date.now() - started; }

  async list() {
    const names = [];
    let after = null;
    do {
      const page = await this.request(after ? { op: "list", after } : { op: "list" });
      names.push(...page.symbols);
      after = page.next || null;
    } while (after);
    return names;
  }

  /** A fresh token: sent as `auth` on a live connection, or used to connect again after 4001. */
  async setToken(token) {
    this.token = token;
    if (this.status === "waiting-for-token") { this.open(); return null; }
    if (this.isOpen()) return this.request({ op: "auth", token });
    return null;
  }

  // ---- Requests ---------------------------------------------------------------------------------

  async chunked(request, symbols) {
    const size = (this.welcome && this.welcome.maxSymbols) || 1000;
    let merged = null;
    for (let i = 0; i < symbols.length || (i === 0 && !merged); i += size) {
      const ack = await this.request({ ...request, symbols: symbols.slice(i, i + size) });
      merged = merged ? { ...ack, symbols: merged.symbols.concat(ack.symbols) } : ack;
    }
    return merged;
  }

  /** Sends once connected; if the connection drops first, asks again on the next one. */
  async request(body) {
    for (;;) {
      await this.ready.promise;
      try { return await this.send(body); } catch (error) {
        if (!(error instanceof ConnectionLost) || this.closed) throw error;
      }
    }
  }

  send(body) {
    if (!this.isOpen()) return Promise.reject(new ConnectionLost());
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.ws.send(JSON.stringify({ ...body, id }));
    });
  }

  isOpen() { return this.ws && this.ws.readyState === 1 && this.welcome !== null && this.welcomed; }

  failPending(error) {
    for (const { reject } of this.pending.values()) reject(error);
    this.pending.clear();
  }

  // `ready` settles once per connection: resolved at its welcome, rejected by a fatal close. A
  // connection lost before its welcome leaves it pending, so whoever waits (connect(), a request)
  // waits on for the next connection instead of on a promise nobody will settle.
  newReady() {
    const ready = { settled: false };
    ready.promise = new Promise((resolve, reject) => {
      ready.resolve = value => { ready.settled = true; resolve(value); };
      ready.reject = error => { ready.settled = true; reject(error); };
    });
    ready.promise.catch(() => {});   // rejected only for a fatal close; callers of connect() see it
    this.ready = ready;
  }

  // ---- The connection ---------------------------------------------------------------------------

  async open() {
    this.timer = null;
    if (this.closed) return;
    this.setStatus("connecting");
    if (this.tokenProvider) {
      try { this.token = await this.tokenProvider(); } catch (error) {
        this.emit("error", { code: "token_provider_failed", message: String(error && error.message || error) });
        this.retryLater(CloseCodes.ABNORMAL, "no token");
        return;
      }
    }
    const url = new URL(this.url, globalThis.location ? globalThis.location.href : undefined);
    if (this.heartbeatMs !== null) url.searchParams.set("heartbeat", String(this.heartbeatMs));
    // Browsers cannot set headers on a WebSocket: the hub takes the token as ?token= too.
    if (this.token) url.searchParams.set("token", this.token);
    const ws = new this.Impl(url.toString());
    this.ws = ws;
    this.welcomed = false;
    this.delivered = false;
    ws.onmessage = event => {
      this.lastMessageAt = Date.now();
      this.receive(ws, JSON.parse(typeof event.data === "string" ? event.data : event.data.toString()));
    };
    ws.onclose = event => this.closedBy(ws, event.code, event.reason);
    ws.onerror = () => {};   // a close follows, with the code
  }

  async receive(ws, m) {
    if (ws !== this.ws) return;
    if (m.type === "welcome") {
      this.welcome = m;
      this.feed = { feed: "live", reason: null };   // a stale hub says so right after welcome
      this.connections++;
      this.connectionMissed = 0;
      this.emit("welcome", m);
      this.scheduleRefresh();
      this.watchHeartbeats(ws, m.heartbeatMs);
      await this.resubscribe(ws);
      if (ws !== this.ws) return;
      this.setStatus("connected");
      this.ready.resolve();
      return;
    }
    this.delivered = true;
    if (MARKET_TYPES.has(m.type)) { this.deliver(m); return; }
    if (m.type === "book" || m.type === "bookUpdate") { this.deliverBook(m); return; }
    if (m.type === "candle" || m.type === "candles") { this.deliverCandles(m); return; }
    const waiting = m.id !== undefined && m.id !== null ? this.pending.get(m.id) : undefined;
    if (waiting) {
      this.pending.delete(m.id);
      if (m.type === "error") waiting.reject(new TickerHubError(m)); else waiting.resolve(m);
    } else if (m.type === "error") {
      this.emit("error", m);
    } else if (m.type === "status") {
      this.feed = { feed: m.feed, reason: m.reason ?? null };
      this.emit("feed", this.feed);
    }
  }

  // Everything held, in groups by channel and maxFrequency (patterns apart: `since` names symbols),
  // with `since` where the state is of this epoch; then every book and series of bars, which start
  // again from their snapshots.
  async resubscribe(ws) {
    this.welcomed = true;
    const groups = new Map();
    for (const [symbol, frequency] of this.desired) {
      const channel = this.channels.get(symbol) ?? null;
      const key = `${channel}|${frequency}|${symbol.endsWith("*")}`;
      if (!groups.has(key)) groups.set(key, { channel, frequency, symbols: [] });
      groups.get(key).symbols.push(symbol);
    }
    const requests = [...groups.values()].map(({ channel, frequency, symbols }) => {
      const request = { op: "subscribe", symbols };
      if (channel !== null) request.channel = channel;
      if (frequency !== null) request.maxFrequency = frequency;
      return request;
    });
    for (const book of this.books.values()) book.inStep = false;   // until this connection's snapshot
    for (const [depth, names] of this.desiredBooks) {
      if (names.size) requests.push({ op: "subscribe", channel: "book", depth, symbols: [...names] });
    }
    for (const [interval, names] of this.desiredCandles) {
      if (names.size) requests.push({ op: "subscribe", channel: "candles", interval, symbols: [...names] });
    }
    for (const request of requests) {
      const symbols = request.symbols;
      const since = {};
      const quotesAndTrades = request.channel !== "book" && request.channel !== "candles";
      for (const symbol of quotesAndTrades ? symbols : []) {
        const state = this.state.get(symbol);
        if (state && state.seq && state.epoch === this.epoch) since[symbol] = state.seq;
      }
      const resumed = Object.keys(since).length;
      if (resumed) Object.assign(request, { since, epoch: this.epoch });
      try {
        const ack = await this.send(request);
        if ("recovered" in ack) {
          const missed = (ack.notRecovered || []).length;
          this.recoveries.recovered += resumed - missed;
          this.recoveries.notRecovered += missed;
        }
      } catch (error) {
        if (error instanceof TickerHubError) this.emit("error", error.answer); else return;
      }
      if (ws !== this.ws) return;
    }
  }

  /** Whether `symbol` is one of `names`, or matches one of them that is a pattern. */
  static follows(names, symbol) {
    if (!names) return false;
    if (names.has(symbol)) return true;
    for (const name of names.keys()) if (matches(name, symbol)) return true;
    return false;
  }

  deliver(m) {
    if (!TickerHubClient.follows(this.desired, m.symbol)) return;   // in flight when we unsubscribed
    let state = this.state.get(m.symbol);
    if (!state) { state = new SymbolState(m.symbol, this.epoch); this.state.set(m.symbol, state); }
    const before = state.seq;
    const missed = state.apply(m);
    // A gap within a connection is the hub's drop or throttle; across a reconnect it is not.
    if (m.type !== "snapshot") this.connectionMissed += missed;
    if (state.seq !== before || m.type === "snapshot") {
      this.emit("update", { type: m.type, symbol: m.symbol, seq: m.seq, data: m, missed, state });
    }
  }

  deliverBook(m) {
    if (!TickerHubClient.follows(this.desiredBooks.get(m.depth), m.symbol)) return;
    const key = `${m.symbol}@${m.depth}`;
    let book = this.books.get(key);
    if (!book) { book = new BookState(m.symbol, m.depth); this.books.set(key, book); }
    const wasInStep = book.inStep;
    if (book.apply(m)) {
      this.emit("book", { type: m.type, symbol: m.symbol, depth: m.depth, seq: m.seq, data: m, book });
    } else if (wasInStep || m.type === "book") {
      // A seq jump or a checksum that does not match: a fresh snapshot puts it right.
      this.bookResyncs++;
      this.emit("resync", { symbol: m.symbol, depth: m.depth, seq: m.seq, book });
      this.resyncBook(m.symbol, m.depth);
    }
  }

  async resyncBook(symbol, depth) {
    try {
      await this.send({ op: "unsubscribe", channel: "book", depth, symbols: [symbol] });
      await this.send({ op: "subscribe", channel: "book", depth, symbols: [symbol] });
    } catch { /* the connection dropped: the next one subscribes every book again */ }
  }

  deliverCandles(m) {
    if (!TickerHubClient.follows(this.desiredCandles.get(m.interval), m.symbol)) return;
    const series = this.seriesFor(m.symbol, m.interval);
    const missed = series.apply(m);
    this.emit("candle", { type: m.type, symbol: m.symbol, interval: m.interval, seq: m.seq, data: m, missed, series });
  }

  seriesFor(symbol, interval) {
    const key = `${symbol}@${interval}`;
    let series = this.candleSeries.get(key);
    if (!series) { series = new CandleSeries(symbol, interval); this.candleSeries.set(key, series); }
    return series;
  }

  /** With heartbeats on (`heartbeatMs`, or the hub's default), a link that delivers nothing for two
   * intervals is dead however open it looks (a half-open TCP connection never reports a close):
   * it is dropped, and the client shows `reconnecting` and connects again. */
  watchHeartbeats(ws, intervalMs) {
    clearInterval(this.watchdog);
    if (!intervalMs) return;
    this.lastMessageAt = Date.now();
    this.watchdog = setInterval(() => {
      if (ws !== this.ws) { clearInterval(this.watchdog); return; }
      if (Date.now() - this.lastMessageAt <= 2 * intervalMs) return;
      clearInterval(this.watchdog);
      ws.onclose = null; ws.onmessage = null;
      try { ws.close(CloseCodes.NORMAL, "no heartbeat"); } catch { /* already closing */ }
      this.closedBy(ws, CloseCodes.HEARTBEAT_MISSED, `nothing for ${2 * intervalMs} ms`);
    }, Math.max(250, intervalMs / 4));
  }

  closedBy(ws, code, reason) {
    if (ws !== this.ws) return;
    this.ws = null;
    this.welcomed = false;
    this.lastClose = { code, reason };
    clearTimeout(this.refreshTimer);
    clearInterval(this.watchdog);
    this.failPending(new ConnectionLost());
    if (this.closed) return;
    if (FATAL_CLOSE_CODES.has(code) || (code === CloseCodes.UNAUTHORIZED && !this.tokenProvider)) {
      this.closed = true;
      // Whoever waits for a connection learns why there will be none.
      if (this.ready.settled) this.newReady();
      this.ready.reject(new TickerHubClosed(code, reason));
      this.setStatus("closed", { code, reason });
      this.emit("closed", { code, reason });
      return;
    }
    if (this.ready.settled) this.newReady();
    if (code === CloseCodes.TOKEN_EXPIRED && !this.tokenProvider) {
      // Connecting again with the same token would only be refused: wait for setToken().
      this.setStatus("waiting-for-token", { code, reason });
      return;
    }
    if (this.delivered) this.backoff.reset();
    this.retryLater(code, reason);
  }

  retryLater(code, reason) {
    this.urlIndex = (this.urlIndex + 1) % this.urls.length;
    const delayMs = this.backoff.nextDelay();
    this.setStatus("reconnecting", { code, reason, delayMs });
    this.timer = setTimeout(() => this.open(), delayMs);
  }

  scheduleRefresh() {
    clearTimeout(this.refreshTimer);
    const expiresAt = this.welcome && this.welcome.tokenExpiresAt;
    if (!this.tokenProvider || !expiresAt) return;
    const refresh = async () => {
      try {
        const ack = await this.setToken(await this.tokenProvider());
        if (ack && ack.tokenExpiresAt) this.refreshTimer = setTimeout(refresh, Math.max(0, ack.tokenExpiresAt - Date.now() - 30_000));
      } catch (error) {
        this.emit("error", { code: error.code || "refresh_failed", message: String(error.message || error) });
      }
    };
    this.refreshTimer = setTimeout(refresh, Math.max(0, expiresAt - Date.now() - 30_000));
  }

  setStatus(status, detail = {}) {
    this.status = status;
    this.emit("status", { status, ...detail });
  }
}
