// One row of the watchlist: a symbol's prices, change, rate and sparkline. Messages update its state
// and mark it dirty; `render` (once per animation frame, for dirty rows only) writes the DOM.
import { drawSparkline } from "./charts.js";
import { parsePrice, formatPrice, difference, tickDecimals } from "./prices.js";

// Points a sparkline keeps: 30 s of history at one point per 250 ms.
export const SPARK_POINTS = 120;
const SPARK_WIDTH = 110, SPARK_HEIGHT = 26;   // CSS pixels; index.html's td.spark canvas says the same
const FLASH_MS = 400;

export class Row {
  constructor(symbol, onRemove, onSelect) {
    this.symbol = symbol;
    this.seq = 0;               // newest seq applied; 0 before the first snapshot
    this.known = true;          // false when this hub does not publish the symbol
    this.bid = null; this.ask = null; this.last = null; this.open = null;
    this.gaps = 0;
    this.details = {};          // the instrument's: tickSize, lotSize, currency, name (snapshots carry them)
    this.decimals = null;       // the tick size's decimals, which prices are shown with
    this.detailsChanged = false;
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
    remove.onclick = event => { event.stopPropagation(); onRemove(symbol); };
    this.cells.remove.appendChild(remove);
    this.tr.onclick = () => onSelect(symbol);
  }

  // A snapshot or conflated message: the symbol's whole state.
  applyState(m) {
    if (m.bid !== undefined) { this.setPrice("bid", m.bid); this.setPrice("ask", m.ask); }
    if (m.last !== undefined) this.setPrice("last", m.last);
    if (m.open !== undefined) this.open = parsePrice(m.open);
    if (m.tickSize !== undefined || m.name !== undefined) {
      const { tickSize, lotSize, currency, name } = m;
      this.details = { tickSize, lotSize, currency, name };
      this.decimals = tickDecimals(tickSize);
      this.detailsChanged = true;
    }
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
      this.setText(name, formatPrice(this[name], this.decimals));
      const flash = this.flashes[name];
      const live = flash && flash[1] > now;
      c[name].classList.toggle("flash-up", !!live && flash[0] === "up");
      c[name].classList.toggle("flash-down", !!live && flash[0] === "down");
      if (flash && !live) delete this.flashes[name];
    }
    const spread = difference(this.ask, this.bid);
    this.setText("spread", formatPrice(spread, this.decimals));
    const change = difference(this.last, this.open);
    this.setText("change", change ? (change.units > 0 ? "+" : "") + formatPrice(change, this.decimals) : "–");
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
