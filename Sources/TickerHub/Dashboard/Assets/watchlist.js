// The watchlist page (GET /): a live table of the symbols you pick, over one WebSocket (tickerhub.v1).
//
// Message handlers only change state and mark rows dirty; the screen is redrawn once per animation
// frame, and only the rows that changed. So 50+ symbols at hundreds of updates per second cost a few
// DOM writes per frame, not one per message.
import { $ } from "./dom.js";
import { LatencyWindow } from "./latency.js";
import { Row, SPARK_POINTS } from "./watchlist-row.js";
import { SymbolPicker } from "./symbol-picker.js";
import { accessToken } from "./access-token.js";

const STORAGE_KEY = "tickerhub.watchlist.v1";
const DEFAULT_WATCHLIST_SIZE = 20;
const SPARK_INTERVAL_MS = 250;       // one sparkline point per row this often
const RECONNECT_BASE_MS = 500, RECONNECT_MAX_MS = 30_000;
const HUB_STATS_INTERVAL_MS = 5000;
const TOKEN_EXPIRED = 4001;          // the close code of a connection whose token lapsed

// ---- The saved watchlist ------------------------------------------------------------------------

const savedWatchlist = {
  load() {
    try {
      const list = JSON.parse(localStorage.getItem(STORAGE_KEY));
      return Array.isArray(list) ? list.filter(s => typeof s === "string") : null;
    } catch { return null; }
  },
  save(symbols) { localStorage.setItem(STORAGE_KEY, JSON.stringify(symbols)); },
  clear() { localStorage.removeItem(STORAGE_KEY); },
};

// ---- The page ------------------------------------------------------------------------------------

const page = {
  rows: new Map(),        // symbol -> Row, in watchlist order
  dirty: new Set(),       // rows to redraw on the next frame
  allSymbols: [],         // from /v1/symbols, busiest first on a simulated hub
  known: new Set(),
  latency: new LatencyWindow(),
  gaps: 0,
  needsDefaultWatchlist: false,   // a first visit while the hub was down: fill in once it answers
  updatesThisSecond: 0,
  reconnects: 0,

  watchlist() { return [...this.rows.keys()]; },

  // Adds rows (and subscribes, if connected); `subscribe: false` when the caller subscribes itself.
  add(symbols, { subscribe = true } = {}) {
    const added = [];
    for (const raw of symbols) {
      const symbol = raw.trim().toUpperCase();
      if (!symbol || this.rows.has(symbol)) continue;
      const row = new Row(symbol, s => this.remove([s]));
      row.known = this.known.has(symbol);
      this.rows.set(symbol, row);
      $("rows").appendChild(row.tr);
      this.dirty.add(row);
      added.push(symbol);
    }
    savedWatchlist.save(this.watchlist());
    if (subscribe) connection.subscribe(added.filter(s => this.known.has(s)));
  },

  remove(symbols) {
    for (const symbol of symbols) {
      const row = this.rows.get(symbol);
      if (!row) continue;
      row.tr.remove();
      this.rows.delete(symbol);
      this.dirty.delete(row);
    }
    savedWatchlist.save(this.watchlist());
    connection.unsubscribe(symbols.filter(s => this.known.has(s)));
  },

  // The hub's universe may change between connections (a restart with other flags, an ingest hub
  // learning symbols), so it is fetched again before every (re)subscription.
  async refreshSymbols() {
    const response = await fetch("/v1/symbols", accessToken.fetchOptions());
    if (!response.ok) throw new Error(`/v1/symbols answered ${response.status}`);
    this.allSymbols = await response.json();
    this.known = new Set(this.allSymbols);
    for (const row of this.rows.values()) {
      if (row.known !== this.known.has(row.symbol)) { row.known = !row.known; this.dirty.add(row); }
    }
  },

  onMessage(m) {
    switch (m.type) {
      case "snapshot": {
        const row = this.rows.get(m.symbol);
        if (!row) return;   // removed while the subscribe was in flight
        row.applyState(m);
        row.awaitingSnapshot = false;
        this.dirty.add(row);
        break;
      }
      case "quote": case "trade": case "conflated": {
        const row = this.rows.get(m.symbol);
        if (!row || m.seq <= row.seq) return;
        if (!row.awaitingSnapshot && m.seq !== row.seq + 1) {
          const missed = m.seq - row.seq - 1;   // the protocol's promise: a jump counts what we missed
          row.gaps += missed; this.gaps += missed;
        }
        if (m.type === "conflated") row.applyState(m); else row.applyUpdate(m);
        this.latency.add(m.ts);
        this.updatesThisSecond++;
        this.dirty.add(row);
        break;
      }
      case "stats":
        // The hub's own count of updates this connection skipped; it must equal our seq gaps.
        $("gaps").textContent = this.gaps;
        $("gaps").dataset.atStatsReply = String(this.gaps);
        $("hubDropped").textContent = m.counters.dropped;
        break;
      case "error":
        $("notice").textContent = `hub: ${m.code}: ${m.message}`;
        if (m.code === "not_entitled") {
          // The token does not grant these (or a refreshed one no longer does): show them as unknown.
          for (const symbol of m.symbols || []) {
            const row = this.rows.get(symbol);
            this.known.delete(symbol);
            if (row && row.known) { row.known = false; this.dirty.add(row); }
          }
        }
        break;
    }
  },

  frame(now) {
    for (const row of this.dirty) row.render(now);
    this.dirty.clear();
    for (const row of this.rows.values()) if (row.flashing) this.dirty.add(row);  // to clear the flash
    requestAnimationFrame(t => this.frame(t));
  },

  sampleSparklines() {
    for (const row of this.rows.values()) {
      const mid = row.mid;
      if (mid === null) continue;
      row.spark.push(mid);
      if (row.spark.length > SPARK_POINTS) row.spark.shift();
      row.sparkChanged = true;
      this.dirty.add(row);
    }
  },

  everySecond() {
    for (const row of this.rows.values()) {
      if (row.updatesPerSecond !== row.updatesThisSecond) this.dirty.add(row);
      row.updatesPerSecond = row.updatesThisSecond; row.updatesThisSecond = 0;
    }
    $("rate").textContent = this.updatesThisSecond; this.updatesThisSecond = 0;
    $("gaps").textContent = this.gaps;
    const latency = this.latency.percentiles();
    $("p50").textContent = latency ? latency.p50.toFixed(1) : "–";
    $("p99").textContent = latency ? latency.p99.toFixed(1) : "–";
  },
};

// ---- The connection: reconnect with jittered exponential backoff, then resubscribe ---------------

const connection = {
  ws: null,
  attempt: 0,
  nextId: 1,
  maxSymbols: 1000,

  connect() {
    setStatus("connecting", "warn");
    const ws = new WebSocket(accessToken.webSocketURL("/ws"));
    this.ws = ws;
    ws.onopen = () => { $("extension").textContent = ws.extensions || "none"; };
    ws.onmessage = event => {
      const m = JSON.parse(event.data);
      if (m.type === "welcome") this.welcomed(ws, m); else page.onMessage(m);
    };
    ws.onclose = event => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (event.code === TOKEN_EXPIRED) {
        // Reconnecting with the same token would only be refused: wait for a fresh one.
        setStatus("access token expired: open this page with a new #token=…", "bad");
        this.waitingForToken = true;
        return;
      }
      this.scheduleReconnect(event);
    };
  },

  async welcomed(ws, welcome) {
    this.maxSymbols = welcome.maxSymbols || this.maxSymbols;
    try { await page.refreshSymbols(); } catch { ws.close(); return; }
    if (this.ws !== ws) return;
    this.attempt = 0;
    setStatus("connected", "ok");
    $("notice").textContent = "";
    for (const row of page.rows.values()) row.awaitingSnapshot = true;  // new snapshots re-base every seq
    if (page.needsDefaultWatchlist && page.allSymbols.length) {
      page.needsDefaultWatchlist = false;
      page.add(page.allSymbols.slice(0, DEFAULT_WATCHLIST_SIZE), { subscribe: false });
    }
    this.subscribe(page.watchlist().filter(s => page.known.has(s)));
  },

  // "Equal jitter": half the backoff is fixed, half random, so a hub restart does not bring every
  // dashboard back in the same millisecond.
  scheduleReconnect(event) {
    const backoff = Math.min(RECONNECT_MAX_MS, RECONNECT_BASE_MS * 2 ** this.attempt);
    const delay = backoff / 2 + Math.random() * backoff / 2;
    this.attempt++;
    page.reconnects++;
    $("reconnects").textContent = page.reconnects;
    const why = event.code === 1006 ? "connection lost" : `closed ${event.code}${event.reason ? " " + event.reason : ""}`;
    setStatus(`reconnecting in ${(delay / 1000).toFixed(1)} s (${why})`, "bad");
    setTimeout(() => this.connect(), delay);
  },

  send(op, symbols) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return;  // the next welcome resubscribes
    for (let i = 0; i < symbols.length; i += this.maxSymbols) {
      this.ws.send(JSON.stringify({ op, id: this.nextId++, symbols: symbols.slice(i, i + this.maxSymbols) }));
    }
  },
  askForStats() {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify({ op: "stats", id: this.nextId++ }));
  },
  // A new token from the URL fragment: in force at once on a live connection, or reconnect with it.
  refreshToken(token) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify({ op: "auth", id: this.nextId++, token }));
    } else if (this.waitingForToken) {
      this.waitingForToken = false;
      this.connect();
    }
  },
  subscribe(symbols) { this.send("subscribe", symbols); },
  unsubscribe(symbols) { this.send("unsubscribe", symbols); },
};

function setStatus(text, kind) {
  $("status").textContent = text;
  $("status").className = kind;
}

// ---- Start ---------------------------------------------------------------------------------------

async function start() {
  accessToken.load();
  accessToken.onChange(token => connection.refreshToken(token));
  new SymbolPicker(page);
  $("reset").onclick = () => { savedWatchlist.clear(); page.remove(page.watchlist()); page.add(page.allSymbols.slice(0, DEFAULT_WATCHLIST_SIZE)); };
  try { await page.refreshSymbols(); } catch { /* the hub is down: connect() retries with backoff */ }
  // A first visit watches the hub's busiest symbols (a simulated hub lists them first).
  const saved = savedWatchlist.load();
  if (saved) page.add(saved, { subscribe: false });
  else if (page.allSymbols.length) page.add(page.allSymbols.slice(0, DEFAULT_WATCHLIST_SIZE), { subscribe: false });
  else page.needsDefaultWatchlist = true;
  setInterval(() => page.sampleSparklines(), SPARK_INTERVAL_MS);
  setInterval(() => page.everySecond(), 1000);
  setInterval(() => connection.askForStats(), HUB_STATS_INTERVAL_MS);
  requestAnimationFrame(t => page.frame(t));
  connection.connect();
}

start();
