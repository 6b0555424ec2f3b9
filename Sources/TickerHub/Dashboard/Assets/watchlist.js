// The watchlist page (GET /): a live table of the symbols you pick, over one WebSocket (tickerhub.v1),
// through the JavaScript client (clients/js), which reconnects, recovers and counts gaps. Selecting a
// row opens its detail panel (detail-panel.js): candle chart, depth ladder and trade tape.
//
// Message handlers only change state and mark rows dirty; the screen is redrawn once per animation
// frame, and only the rows that changed. So 50+ symbols at hundreds of updates per second cost a few
// DOM writes per frame, not one per message.
import { $ } from "./dom.js";
import { LatencyWindow } from "./latency.js";
import { Row, SPARK_POINTS } from "./watchlist-row.js";
import { DetailPanel } from "./detail-panel.js";
import { SymbolPicker } from "./symbol-picker.js";
import { accessToken } from "./access-token.js";
import { Backoff, CloseCodes, TickerHubClient } from "./tickerhub-client.js";

const STORAGE_KEY = "tickerhub.watchlist.v1";
const DEFAULT_WATCHLIST_SIZE = 20;
const SPARK_INTERVAL_MS = 250;       // one sparkline point per row this often
const HUB_STATS_INTERVAL_MS = 5000;

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
  detail: null,           // the selected symbol's panel (created at start, with the client)
  selected: null,         // the selected Row

  watchlist() { return [...this.rows.keys()]; },

  // Adds rows (and subscribes, if connected); `subscribe: false` when the caller subscribes itself.
  add(symbols, { subscribe = true } = {}) {
    const added = [];
    for (const raw of symbols) {
      const symbol = raw.trim().toUpperCase();
      if (!symbol || this.rows.has(symbol)) continue;
      const row = new Row(symbol, s => this.remove([s]), s => this.select(s));
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
      if (row === this.selected) this.select(null);
      row.tr.remove();
      this.rows.delete(symbol);
      this.dirty.delete(row);
    }
    savedWatchlist.save(this.watchlist());
    connection.unsubscribe(symbols.filter(s => this.known.has(s)));
  },

  // Opens the detail panel on `symbol`'s row, or closes it (null, or the symbol already open).
  select(symbol) {
    const row = symbol === null ? null : this.rows.get(symbol);
    if (this.selected) this.selected.tr.classList.remove("selected");
    if (!row || row === this.selected || !row.known) {
      this.selected = null;
      this.detail.hide();
      return;
    }
    this.selected = row;
    row.tr.classList.add("selected");
    this.detail.show(row);
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

  // One market message, already checked by the client: `missed` is the updates of the symbol it
  // never saw just before this one (the protocol's promise: a seq jump counts them).
  onUpdate(update) {
    const row = this.rows.get(update.symbol);
    if (!row) return;   // removed while the subscribe was in flight
    const m = update.data;
    if (update.type === "snapshot") {
      row.applyState(m);
    } else {
      if (update.missed) { row.gaps += update.missed; this.gaps += update.missed; }
      if (update.type === "conflated") row.applyState(m); else row.applyUpdate(m);
      if (update.type === "trade") this.detail.onTrade(m);
      this.latency.add(m.ts);
      this.updatesThisSecond++;
    }
    this.dirty.add(row);
  },

  // The hub's own count of updates this connection skipped (dropped and throttled); it must equal
  // the client's count of this connection's seq gaps.
  onHubStats(counters, missedOnConnection) {
    $("gaps").textContent = this.gaps;
    $("gaps").dataset.atStatsReply = String(missedOnConnection);
    $("hubDropped").textContent = counters.dropped + counters.throttled;
  },

  onError(m) {
    $("notice").textContent = `hub: ${m.code}: ${m.message}`;
    if (m.code === "not_entitled") {
      // The token does not grant these (or a refreshed one no longer does): show them as unknown.
      for (const symbol of m.symbols || []) {
        const row = this.rows.get(symbol);
        this.known.delete(symbol);
        if (row && row.known) { row.known = false; this.dirty.add(row); }
      }
    }
  },

  frame(now) {
    for (const row of this.dirty) row.render(now);
    this.dirty.clear();
    this.detail.render();
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

// ---- The connection: the client reconnects, resubscribes and recovers; the page follows it -------

const connection = {
  client: new TickerHubClient("/ws", { tokenProvider: () => accessToken.value, backoff: new Backoff({ initialMs: 500, maxMs: 30_000 }) }),

  start() {
    const client = this.client;
    client.on("update", update => page.onUpdate(update));
    client.on("error", m => page.onError(m));
    client.on("welcome", () => { $("extension").textContent = client.extensions || "none"; });
    client.on("status", s => this.showStatus(s));
    // The hub lost its feed (a NATS-fed node): its prices are its last ones, so say so.
    client.on("feed", f => f.feed === "stale"
      ? setStatus(`connected, feed stale: ${f.reason || "upstream lost"} (prices may be old)`, "warn")
      : setStatus("connected", "ok"));
    client.connect();
  },

  showStatus(s) {
    switch (s.status) {
      case "connecting": setStatus("connecting", "warn"); break;
      case "connected": this.connected(); break;
      case "reconnecting": {
        page.reconnects++;
        $("reconnects").textContent = page.reconnects;
        const why = s.code === CloseCodes.ABNORMAL ? "connection lost" : `closed ${s.code}${s.reason ? " " + s.reason : ""}`;
        setStatus(`reconnecting in ${(s.delayMs / 1000).toFixed(1)} s (${why})`, "bad");
        break;
      }
      case "waiting-for-token":
        // Reconnecting with the same token would only be refused: wait for a fresh one.
        setStatus("access token expired: open this page with a new #token=…", "bad");
        break;
      case "closed": setStatus(`closed ${s.code}${s.reason ? " " + s.reason : ""}`, "bad"); break;
    }
  },

  // The hub's universe may change between connections (a restart with other flags, an ingest hub
  // learning symbols), so it is fetched again on every connection, and new rows subscribed.
  async connected() {
    if (this.client.feed.feed === "stale") {
      setStatus(`connected, feed stale: ${this.client.feed.reason || "upstream lost"} (prices may be old)`, "warn");
    } else {
      setStatus("connected", "ok");
    }
    $("notice").textContent = "";
    try { await page.refreshSymbols(); } catch { return; }
    if (page.needsDefaultWatchlist && page.allSymbols.length) {
      page.needsDefaultWatchlist = false;
      page.add(page.allSymbols.slice(0, DEFAULT_WATCHLIST_SIZE), { subscribe: false });
    }
    this.subscribe(page.watchlist().filter(s => page.known.has(s)));
  },

  async askForStats() {
    if (this.client.status !== "connected") return;
    try {
      const counters = await this.client.stats();
      page.onHubStats(counters, this.client.connectionMissed);
    } catch { /* the connection dropped; the next poll asks again */ }
  },

  // A new token from the URL fragment: in force at once on a live connection (`auth`), or used to
  // connect again after a 4001.
  refreshToken(token) { this.client.setToken(token).catch(error => page.onError(error.answer || { code: "auth", message: String(error) })); },

  subscribe(symbols) {
    const fresh = symbols.filter(s => !this.client.isSubscribed(s));
    if (fresh.length) this.client.subscribe(fresh).catch(error => { if (error.answer) page.onError(error.answer); });
  },
  unsubscribe(symbols) { if (symbols.length) this.client.unsubscribe(symbols).catch(() => {}); },
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
  page.detail = new DetailPanel(connection.client, () => page.select(null));
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
  connection.start();
}

start();
