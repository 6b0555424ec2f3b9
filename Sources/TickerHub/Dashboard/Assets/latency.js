// End-to-end latency as a browser sees it: arrival time minus the update's `ts` (publish time, ns
// since the epoch), over a sliding window. Used by the watchlist page.

const LATENCY_WINDOW_MS = 10_000;
const LATENCY_MAX_SAMPLES = 50_000;

export class LatencyWindow {
  constructor() { this.samples = []; this.start = 0; }  // [arrivalMs, latencyMs], oldest first from `start`

  add(tsNanos) {
    const now = performance.timeOrigin + performance.now();
    this.samples.push([now, now - tsNanos / 1e6]);
    if (this.samples.length - this.start > LATENCY_MAX_SAMPLES) this.start++;
  }

  percentiles() {
    const cutoff = performance.timeOrigin + performance.now() - LATENCY_WINDOW_MS;
    while (this.start < this.samples.length && this.samples[this.start][0] < cutoff) this.start++;
    if (this.start > 4096) { this.samples = this.samples.slice(this.start); this.start = 0; }
    const values = this.samples.slice(this.start).map(s => s[1]).sort((a, b) => a - b);
    if (!values.length) return null;
    const at = q => values[Math.min(values.length - 1, Math.floor(q * values.length))];
    return { p50: at(0.5), p99: at(0.99) };
  }
}
