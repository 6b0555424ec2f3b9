// The operator page's probe: a client of its own (the JavaScript client, clients/js) following the
// hub's busiest symbols, so the page shows what a subscriber sees (end-to-end latency, gaps,
// reconnects) beside what the hub counts. Only where this listener serves /ws without a token: on
// an admin listener (--admin-port), or with auth on, there is no probe.
import { Backoff, TickerHubClient } from "./tickerhub-client.js";
import { LatencyWindow } from "./latency.js";

const PROBE_SYMBOLS = 5;

export class Probe {
  constructor() {
    this.latency = new LatencyWindow();
    this.client = null;
    this.state = "off";
  }

  async start() {
    let symbols;
    try {
      const response = await fetch("/v1/symbols", { cache: "no-store" });
      if (!response.ok) { this.state = `off (/v1/symbols: ${response.status})`; return; }
      symbols = (await response.json()).slice(0, PROBE_SYMBOLS);
    } catch { this.state = "off (hub unreachable)"; return; }
    this.client = new TickerHubClient("/ws", { backoff: new Backoff({ initialMs: 1000, maxMs: 30_000 }) });
    this.client.on("update", u => { if (u.type !== "snapshot") this.latency.add(u.data.ts); });
    this.client.on("status", s => { this.state = s.status; });
    this.client.connect();
    this.client.subscribe(symbols).catch(() => {});
  }

  // p50 and p99 in ms over the last 10 s (NaN without samples).
  percentiles() {
    const p = this.latency.percentiles();
    return p || { p50: NaN, p99: NaN };
  }

  summary() {
    if (!this.client) return this.state;
    const gaps = [...this.client.state.values()].reduce((sum, s) => sum + s.gaps, 0);
    return `${this.state}, ${this.client.state.size} symbols, ${gaps} gaps, ${Math.max(0, this.client.connections - 1)} reconnects`;
  }
}
