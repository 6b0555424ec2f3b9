// The detail panel of the watchlist: the selected symbol's candle chart (backfilled over REST from
// /v1/candles, then live from the `candles` channel), its depth ladder (the `book` channel, 10
// levels a side, every checksum verified by the client) and its trade tape (the trades the
// watchlist already receives). Like the rows, it only marks itself dirty when messages come, and
// draws on the page's animation frame.
import { $ } from "./dom.js";
import { drawCandles } from "./charts.js";
import { DepthLadder } from "./depth-ladder.js";
import { TradeTape } from "./trade-tape.js";
import { parsePrice, formatPrice } from "./prices.js";

export const LADDER_LEVELS = 10;
const TAPE_LENGTH = 30;
const CHART_WIDTH = 440, CHART_HEIGHT = 220;   // CSS pixels; index.html's #chart says the same
const BARS_KEPT = 400;
const INTERVALS = ["1s", "1m", "5m", "1h"];
const INTERVAL_KEY = "tickerhub.chart.interval";

export class DetailPanel {
  constructor(client, onClose) {
    this.client = client;
    this.symbol = null;
    this.row = null;                 // the watchlist row: its details give the tick size
    this.interval = INTERVALS.includes(localStorage.getItem(INTERVAL_KEY)) ? localStorage.getItem(INTERVAL_KEY) : "1s";
    this.ladder = new DepthLadder($("ladder"), LADDER_LEVELS);
    this.tape = new TradeTape($("tape"), TAPE_LENGTH);
    this.dirty = { chart: false, ladder: false, header: false };
    $("detailClose").onclick = () => onClose();
    for (const interval of INTERVALS) {
      const button = document.createElement("button");
      button.className = "link interval";
      button.textContent = interval;
      button.dataset.interval = interval;
      button.onclick = () => this.setInterval(interval);
      $("intervals").appendChild(button);
    }
    client.on("book", e => { if (e.symbol === this.symbol && e.depth === LADDER_LEVELS) this.dirty.ladder = true; });
    client.on("candle", e => { if (e.symbol === this.symbol && e.interval === this.interval) this.dirty.chart = true; });
    // After a reconnect the client has the open bar again, but not the bars closed meanwhile.
    client.on("status", s => { if (s.status === "connected" && this.symbol) this.backfill(); });
  }

  get decimals() { return this.row ? this.row.decimals : null; }

  async show(row) {
    if (this.symbol === row.symbol) return;
    this.hide();
    this.symbol = row.symbol;
    this.row = row;
    this.tape = new TradeTape($("tape"), TAPE_LENGTH);
    $("detail").hidden = false;
    this.markAll();
    try {
      await this.client.subscribeBook([row.symbol], { depth: LADDER_LEVELS });
      await this.followCandles();
    } catch (error) {
      $("detailNotice").textContent = error.code ? `${error.code}: ${error.message}` : String(error);
    }
  }

  hide() {
    if (!this.symbol) return;
    const symbol = this.symbol;
    this.symbol = null;
    this.row = null;
    $("detail").hidden = true;
    $("detailNotice").textContent = "";
    this.client.unsubscribeBook([symbol], { depth: LADDER_LEVELS }).catch(() => {});
    this.client.unsubscribeCandles([symbol], { interval: this.interval }).catch(() => {});
  }

  async setInterval(interval) {
    if (interval === this.interval) return;
    const previous = this.interval;
    this.interval = interval;
    localStorage.setItem(INTERVAL_KEY, interval);
    this.markAll();
    if (!this.symbol) return;
    this.client.unsubscribeCandles([this.symbol], { interval: previous }).catch(() => {});
    await this.followCandles();
  }

  // Subscribe first, then backfill: the two merge by bar start, so no bar falls between them.
  async followCandles() {
    await this.client.subscribeCandles([this.symbol], { interval: this.interval });
    await this.backfill();
  }

  async backfill() {
    const symbol = this.symbol, interval = this.interval;
    try {
      await this.client.backfillCandles(symbol, { interval });
      if (symbol === this.symbol && interval === this.interval) this.dirty.chart = true;
    } catch (error) {
      $("detailNotice").textContent = `bars: ${error.code || ""} ${error.message || error}`;
    }
  }

  // A trade of the selected symbol, from the watchlist's own subscription.
  onTrade(m) { if (m.symbol === this.symbol) this.tape.add(m); }

  markAll() { this.dirty = { chart: true, ladder: true, header: true }; }

  render() {
    if (!this.symbol) return;
    if (this.dirty.header || this.row.detailsChanged) this.renderHeader();
    if (this.dirty.ladder) { this.ladder.render(this.client.book(this.symbol, LADDER_LEVELS), this.decimals); this.dirty.ladder = false; }
    if (this.dirty.chart) this.renderChart();
    if (this.tape.dirty) this.tape.render(this.decimals);
  }

  renderHeader() {
    this.dirty.header = false;
    this.row.detailsChanged = false;
    const d = this.row.details;
    $("detailSymbol").textContent = this.symbol;
    $("detailName").textContent = [d.name && d.name !== this.symbol ? d.name : null, d.currency,
      d.tickSize ? `tick ${formatPrice(parsePrice(d.tickSize), this.decimals)}` : null,
      d.lotSize ? `lot ${d.lotSize}` : null].filter(Boolean).join(" · ");
    for (const button of $("intervals").children) button.classList.toggle("current", button.dataset.interval === this.interval);
    // The ladder and chart format with the tick size: once it is known, draw them again.
    this.dirty.ladder = this.dirty.chart = true;
  }

  renderChart() {
    this.dirty.chart = false;
    const series = this.client.candles(this.symbol, this.interval);
    if (series) series.trim(BARS_KEPT);
    const bars = series ? series.ordered() : [];
    const decimals = this.decimals;
    const numeric = bars.map(b => ({ open: Number(b.open), high: Number(b.high), low: Number(b.low), close: Number(b.close), closed: b.closed }));
    const canvas = $("chart");
    if (!bars.length) { drawCandles(canvas, [], CHART_WIDTH, CHART_HEIGHT, {}); canvas.dataset.bars = "0"; canvas.dataset.interval = this.interval; return; }
    const visible = bars.slice(-Math.floor((CHART_WIDTH - 64) / 7));
    let high = visible[0].high, low = visible[0].low;
    for (const bar of visible) { if (Number(bar.high) > Number(high)) high = bar.high; if (Number(bar.low) < Number(low)) low = bar.low; }
    const time = start => new Date(start / 1e6).toISOString().slice(11, this.interval === "1s" ? 19 : 16);
    const drawn = drawCandles(canvas, numeric, CHART_WIDTH, CHART_HEIGHT, {
      high: formatPrice(parsePrice(high), decimals), low: formatPrice(parsePrice(low), decimals),
      last: formatPrice(parsePrice(bars[bars.length - 1].close), decimals),
      from: time(visible[0].start), to: time(visible[visible.length - 1].start),
    });
    // For tests and curious users: what the chart holds and shows.
    canvas.dataset.bars = String(drawn);
    canvas.dataset.interval = this.interval;
    canvas.dataset.held = String(bars.length);
    canvas.dataset.last = bars[bars.length - 1].close;
  }
}

