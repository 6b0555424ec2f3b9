// The watchlist page (GET /): a live table of the symbols you pick, over one WebSocket (tickerhub.v1).
//
// Message handlers only change state and mark rows dirty; the screen is redrawn once per animation
// frame, and only the rows that changed. So 50+ symbols at hundreds of updates per second cost a few
// DOM writes per frame, not one per message.
import { $ } from "./dom.js";
import { drawSparkline } from "./charts.js";
import { parsePrice, formatUnits, difference } from "./prices.js";
import { LatencyWindow } from "./latency.js";

const STORAGE_KEY = "tickerhub.watchlist.v1";
const DEFAULT_WATCHLIST_SIZE = 20;
const SPARK_POINTS = 120;            // 30 s of history at one point per 250 ms
const SPARK_INTERVAL_MS = 250;
const SPARK_WIDTH = 110, SPARK_HEIGHT = 26;   // CSS pixels; index.html's td.spark canvas says the same
const FLASH_MS = 400;
const RECONNECT_BASE_MS = 500, RECONNECT_MAX_MS = 30_000;
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

// ---- One table row per watched symbol -------------------------------------------------------------

class Row {
  constructor(symbol, onRemove) {
    this.symbol = symbol;
    this.seq = 0;               // newest seq applied; 0 before the first snapshot
    this.awaitingSnapshot = true;
    this.known = true;          // false when this hub does not publish the symbol
    this.bid = null; this.ask = null; this.last = null; this.open = null;
    this.gaps = 0;
    this.updatesThisSecond = 0; this.updatesPerSecond = 0;
    this.spark = [];
    this.sparkChanged = false;
    this.shown = {};            // cell name -> text on screen
    this.flashes = {};          // cell name -> [direction, until]
    this.tr = document.createElement("tr");
    this.tr.dataset.symbol = symbol;
    this.cells = {};
    for (const name of ["symbol", "bid", "ask", "last", "spread", "change", "changePct", "ups", "spark", "seq", "gaps", "remove"]) {
      const td = document.createElement("td");
      td.className = name;
      this.tr.appendChild(td);
      this.cells[name] = td;
    }
    this.cells.symbol.textContent = symbol;
    this.canvas = document.createElement("canvas");
    this.cells.spark.appendChild(this.canvas);
    const remove = document.createElement("button");
    remove.className = "link remove"; remove.textContent = "×"; remove.title = `remove ${symbol}`;
    remove.onclick = () => onRemove(symbol);
    this.cells.remove.appendChild(remove);
  }

  // A snapshot or conflated message: the symbol's whole state.
  applyState(m) {
    if (m.bid !== undefined) { this.setPrice("bid", m.bid); this.setPrice("ask", m.ask); }
    if (m.last !== undefined) this.setPrice("last", m.last);
    if (m.open !== undefined) this.open = parsePrice(m.open);
    this.seq = m.seq;
  }

  applyUpdate(m) {
    if (m.type === "quote") { this.setPrice("bid", m.bid); this.setPrice("ask", m.ask); }
    else {
      this.setPrice("last", m.price);
      // No `open` in the snapshot means no trade had happened yet: this one opens the session.
      if (!this.open) this.open = parsePrice(m.price);
    }
    this.seq = m.seq;
    this.updatesThisSecond++;
  }

  setPrice(name, text) {
    const price = parsePrice(text);
    const previous = this[name];
    if (previous && price && price.units !== previous.units) {
      this.flashes[name] = [price.units > previous.units ? "up" : "down", performance.now() + FLASH_MS];
    }
    this[name] = price;
  }

  get mid() {
    if (this.bid && this.ask) return (this.bid.units + this.ask.units) / 2;
    return this.last ? this.last.units : null;
  }

  // Writes only what changed: untouched text nodes cost the browser nothing to lay out again.
  setText(name, value) {
    if (this.shown[name] !== value) { this.shown[name] = value; this.cells[name].textContent = value; }
  }

  render(now) {
    const c = this.cells;
    if (!this.known) { this.setText("bid", "not published by this hub"); return; }
    for (const name of ["bid", "ask", "last"]) {
      this.setText(name, this[name] ? formatUnits(this[name].units, this[name].scale) : "–");
      const flash = this.flashes[name];
      const live = flash && flash[1] > now;
      c[name].classList.toggle("flash-up", !!live && flash[0] === "up");
      c[name].classList.toggle("flash-down", !!live && flash[0] === "down");
      if (flash && !live) delete this.flashes[name];
    }
    const spread = difference(this.ask, this.bid);
    this.setText("spread", spread ? formatUnits(spread.units, spread.scale) : "–");
    const change = difference(this.last, this.open);
    this.setText("change", change ? (change.units > 0 ? "+" : "") + formatUnits(change.units, change.scale) : "–");
    this.setText("changePct", change && this.open.units ? (change.units > 0 ? "+" : "") + (100 * change.units / this.open.units).toFixed(2) + "%" : "–");
    for (const cell of [c.change, c.changePct]) {
      cell.classList.toggle("up", !!change && change.units > 0);
      cell.classList.toggle("down", !!change && change.units < 0);
    }
    this.setText("ups", String(this.updatesPerSecond));
    this.setText("seq", String(this.seq || "–"));
    this.setText("gaps", String(this.gaps));
    c.gaps.classList.toggle("has-gaps", this.gaps > 0);
    if (this.sparkChanged) { this.sparkChanged = false; drawSparkline(this.canvas, this.spark, SPARK_WIDTH, SPARK_HEIGHT); }
  }

  get flashing() { return Object.keys(this.flashes).length > 0; }
}

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
    const response = await fetch("/v1/symbols", { cache: "no-store" });
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
    const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws");
    this.ws = ws;
    ws.onopen = () => { $("extension").textContent = ws.extensions || "none"; };
    ws.onmessage = event => {
      const m = JSON.parse(event.data);
      if (m.type === "welcome") this.welcomed(ws, m); else page.onMessage(m);
    };
    ws.onclose = event => {
      if (this.ws !== ws) return;
      this.ws = null;
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
  subscribe(symbols) { this.send("subscribe", symbols); },
  unsubscribe(symbols) { this.send("unsubscribe", symbols); },
};

function setStatus(text, kind) {
  $("status").textContent = text;
  $("status").className = kind;
}

// ---- The symbol picker: search over /v1/symbols ---------------------------------------------------

const picker = {
  matches: [],
  active: 0,

  update() {
    const query = $("search").value.trim().toUpperCase();
    const candidates = page.allSymbols.filter(s => !page.rows.has(s));
    this.matches = !query ? [] : [
      ...candidates.filter(s => s.startsWith(query)),
      ...candidates.filter(s => !s.startsWith(query) && s.includes(query)),
    ].slice(0, 12);
    this.active = 0;
    this.show();
  },

  show() {
    const list = $("suggestions");
    list.replaceChildren(...this.matches.map((symbol, i) => {
      const li = document.createElement("li");
      li.textContent = symbol;
      li.className = i === this.active ? "active" : "";
      li.onmousedown = event => { event.preventDefault(); this.choose([symbol]); };
      return li;
    }));
  },

  // Enter adds the highlighted match; a typed list ("AAPL, MSFT") adds each symbol this hub knows.
  choose(symbols) {
    const unknown = symbols.filter(s => !page.known.has(s));
    page.add(symbols.filter(s => page.known.has(s)));
    $("notice").textContent = unknown.length ? `not published by this hub: ${unknown.join(", ")}` : "";
    $("search").value = "";
    this.update();
  },

  onKey(event) {
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      if (!this.matches.length) return;
      this.active = (this.active + (event.key === "ArrowDown" ? 1 : this.matches.length - 1)) % this.matches.length;
      this.show();
    } else if (event.key === "Enter") {
      const typed = $("search").value.split(/[\s,]+/).map(s => s.trim().toUpperCase()).filter(Boolean);
      const exact = typed.length > 1 || (typed.length === 1 && page.known.has(typed[0]));
      this.choose(this.matches.length && (this.active > 0 || !exact) ? [this.matches[this.active]] : typed);
    } else if (event.key === "Escape") {
      $("search").value = ""; this.update();
    }
  },
};

// ---- Start ---------------------------------------------------------------------------------------

async function start() {
  $("search").addEventListener("input", () => picker.update());
  $("search").addEventListener("keydown", event => picker.onKey(event));
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
