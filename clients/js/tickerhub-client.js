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
    this.desired = new Map();    // symbol -> maxFrequency (null: every update)
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

  /** Subscribes (kept across reconnects); resolves with the ack. Split to the hub's `maxSymbols`. */
  async subscribe(symbols, { maxFrequency = null } = {}) {
    for (const symbol of symbols) this.desired.set(symbol, maxFrequency);
    const request = { op: "subscribe" };
    if (maxFrequency !== null) request.maxFrequency = maxFrequency;
    return this.chunked(request, symbols);
  }

  async unsubscribe(symbols) {
    for (const symbol of symbols) { this.desired.delete(symbol); this.state.delete(symbol); }
    return this.chunked({ op: "unsubscribe" }, symbols);
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

  // Everything held, in groups by maxFrequency, with `since` where the state is of this epoch.
  async resubscribe(ws) {
    this.welcomed = true;
    const groups = new Map();
    for (const [symbol, frequency] of this.desired) {
      if (!groups.has(frequency)) groups.set(frequency, []);
      groups.get(frequency).push(symbol);
    }
    for (const [frequency, symbols] of groups) {
      const request = { op: "subscribe", symbols };
      if (frequency !== null) request.maxFrequency = frequency;
      const since = {};
      for (const symbol of symbols) {
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

  deliver(m) {
    if (!this.desired.has(m.symbol)) return;   // in flight when we unsubscribed
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
