// The operator page (GET /ops): polls /stats once a second and charts rates and levels.
// Counters in /stats are totals since start; rates are differences between two polls. Which totals
// are listed, with what label and explanation, comes from the hub's metric catalog (/stats/catalog),
// the same table that names the figures in /stats and /metrics.
import { $ } from "./dom.js";
import { LineChart } from "./charts.js";
import { Probe } from "./ops-probe.js";

const POLL_MS = 1000;
const HISTORY = 180;   // polls kept per chart: three minutes
const probe = new Probe();

// Each chart: a title, its series, and how to compute each series' value from two polls.
const chartSpecs = [
  { id: "connections", title: "Connections", series: [
      { label: "open", color: "#5aa9e6", value: (s) => s.connections },
      { label: "backlogged", color: "#f5b83d", value: (s) => s.backloggedConnections }] },
  { id: "deliveries", title: "Deliveries per second", unit: "/s", series: [
      { label: "deliveries", color: "#3fcf82", value: (s, p, dt) => rate(s, p, dt, "deliveries") },
      { label: "ticks in", color: "#5aa9e6", value: (s, p, dt) => rate(s, p, dt, "ticksIn") }] },
  { id: "drops", title: "Drops and conflation per second", unit: "/s", series: [
      { label: "dropped", color: "#ef5d5d", value: (s, p, dt) => rate(s, p, dt, "drops") },
      { label: "conflated", color: "#f5b83d", value: (s, p, dt) => rate(s, p, dt, "conflated") }] },
  { id: "evictions", title: "Slow-consumer evictions and ring laps (totals)", series: [
      { label: "evictions", color: "#ef5d5d", value: (s) => s.slowConsumerEvictions },
      { label: "laps", color: "#c678dd", value: (s) => s.ringLaps }] },
  { id: "batch", title: "Fan-out batch time (ms)", unit: " ms", series: [
      { label: "p99", color: "#f5b83d", value: (s, p) => batchPercentile(s, p, 0.99) },
      { label: "mean", color: "#5aa9e6", value: (s, p) => batchMean(s, p) }] },
  { id: "lag", title: "Fan-out lag (KiB not yet read, slowest loop)", unit: " KiB", series: [
      { label: "lag", color: "#ef5d5d", value: (s) => s.fanoutLagBytes ? Math.max(0, ...s.fanoutLagBytes) / 1024 : NaN }] },
  { id: "writes", title: "Messages per socket write", series: [
      { label: "deliveries / flush", color: "#3fcf82", value: (s, p) => ratio(s, p, "deliveries", "flushes") }] },
  { id: "cpu", title: "Hub CPU (% of one core)", unit: "%", series: [
      { label: "cpu", color: "#c678dd", value: (s, p, dt) => p ? (s.cpuMicros - p.cpuMicros) / 1e4 / dt : NaN }] },
  { id: "rss", title: "Hub resident memory (MiB)", unit: " MiB", series: [
      { label: "rss", color: "#5aa9e6", value: (s) => s.rssBytes / 1048576 }] },
  { id: "probe", title: "A subscriber's latency, this page's own (ms)", unit: " ms", series: [
      { label: "p99", color: "#f5b83d", value: () => probe.percentiles().p99 },
      { label: "p50", color: "#3fcf82", value: () => probe.percentiles().p50 }] },
];

function rate(now, previous, seconds, key) {
  return previous && seconds > 0 ? Math.max(0, now[key] - previous[key]) / seconds : NaN;
}

function ratio(now, previous, numerator, denominator) {
  if (!previous) return NaN;
  const d = now[denominator] - previous[denominator];
  return d > 0 ? (now[numerator] - previous[numerator]) / d : NaN;
}

// Batches finished between two polls, per bucket (the last bucket is "above the last bound").
function batchDelta(now, previous) {
  if (!previous || !now.fanoutBatch) return null;
  const counts = now.fanoutBatch.counts.map((c, i) => c - previous.fanoutBatch.counts[i]);
  const total = counts.reduce((a, b) => a + b, 0);
  return total > 0 ? { counts, total, micros: now.fanoutBatch.sumMicros - previous.fanoutBatch.sumMicros } : null;
}

// The bucket's upper bound where the cumulative count reaches q: a conservative percentile.
function batchPercentile(now, previous, q) {
  const delta = batchDelta(now, previous);
  if (!delta) return NaN;
  const bounds = now.fanoutBatch.boundsMicros;
  let seen = 0;
  for (let i = 0; i < delta.counts.length; i++) {
    seen += delta.counts[i];
    if (seen >= q * delta.total) return (i < bounds.length ? bounds[i] : bounds[bounds.length - 1] * 2) / 1000;
  }
  return NaN;
}

function batchMean(now, previous) {
  const delta = batchDelta(now, previous);
  return delta ? delta.micros / delta.total / 1000 : NaN;
}

const charts = chartSpecs.map(spec => {
  const figure = document.createElement("figure");
  const caption = document.createElement("figcaption");
  caption.textContent = spec.title;
  const canvas = document.createElement("canvas");
  canvas.id = "chart-" + spec.id;
  figure.append(caption, canvas);
  $("charts").appendChild(figure);
  return { spec, chart: new LineChart(canvas, { series: spec.series, unit: spec.unit || "", capacity: HISTORY }) };
});

// [{key, label, help}] of the figures shown as totals, from the catalog; empty until it arrives.
let totals = [];

async function loadCatalog() {
  try {
    const response = await fetch("/stats/catalog", { cache: "no-store" });
    totals = (await response.json()).filter(entry => entry.label);
  } catch (error) {
    setTimeout(loadCatalog, POLL_MS);
  }
}

let previous = null, previousAt = 0;

async function poll() {
  try {
    const response = await fetch("/stats", { cache: "no-store" });
    const stats = await response.json();
    const at = performance.now();
    // A restarted hub starts its counters again: treat it as a first poll rather than chart negatives.
    if (previous && stats.uptimeMillis < previous.uptimeMillis) previous = null;
    const seconds = previous ? (at - previousAt) / 1000 : 0;
    for (const { spec, chart } of charts) {
      chart.add(...spec.series.map(s => s.value(stats, previous, seconds)));
      chart.draw();
    }
    showTotals(stats);
    previous = stats; previousAt = at;
    $("status").textContent = "up"; $("status").className = "ok";
  } catch (error) {
    $("status").textContent = "unreachable, retrying"; $("status").className = "bad";
  }
  setTimeout(poll, POLL_MS);
}

function showTotals(stats) {
  $("uptime").textContent = formatDuration(stats.uptimeMillis / 1000);
  $("loops").textContent = stats.eventLoops;
  $("probe").textContent = probe.summary();
  $("ring").textContent = (stats.ringBytes / 1048576).toFixed(stats.ringBytes >= 1048576 ? 0 : 2) + " MiB";
  $("totals").replaceChildren(...totals.map(({ key, label, help }) => {
    const div = document.createElement("div");
    div.title = help;
    const name = document.createElement("span"); name.textContent = label;
    const value = document.createElement("b"); value.textContent = (stats[key] ?? 0).toLocaleString("en");
    div.append(name, value);
    return div;
  }));
}

function formatDuration(seconds) {
  const h = Math.floor(seconds / 3600), m = Math.floor(seconds / 60) % 60, s = Math.floor(seconds % 60);
  return h ? `${h}h ${m}m` : m ? `${m}m ${s}s` : `${s}s`;
}

window.addEventListener("resize", () => charts.forEach(({ chart }) => chart.draw()));
loadCatalog().then(poll);
probe.start();
