// A Node `ws` hub speaking the subset of tickerhub.v1 that `feedsim swarm` uses (welcome, list,
// subscribe with ack + snapshot, quote updates with per-symbol seq and ts in ns), written the way a
// typical Node fan-out is: JSON.stringify once per tick, then ws.send(string) to each subscriber
// (ws frames the message for every socket). Slow sockets are skipped past 128 KiB buffered, like
// TickerHub's write-buffer high-water mark. Same market shape: N symbols, Zipf(0.8) activity, each
// tick stamped with the time it was due, so a fan-out that falls behind shows as latency.
//
//   NODE_PATH=/usr/share/nodejs node Benchmarks/peers/node-ws-hub.js --port 18600 --rate 100
const { WebSocketServer } = require("ws");
const http = require("http");
const { performance } = require("perf_hooks");

const args = Object.fromEntries(process.argv.slice(2).reduce((pairs, value, index, all) =>
  index % 2 === 0 ? pairs.concat([[value.replace(/^--/, ""), all[index + 1]]]) : pairs, []));
const port = Number(args.port || 18600);
const rate = Number(args.rate || 100);
const symbolCount = Number(args.symbols || 500);

const symbols = Array.from({ length: symbolCount }, (_, i) => `S${String(i).padStart(3, "0")}`);
const weights = symbols.map((_, i) => 1 / Math.pow(i + 1, 0.8));
const cumulative = weights.reduce((acc, w) => (acc.push((acc[acc.length - 1] || 0) + w), acc), []);
const mid = symbols.map(() => 100 + Math.random() * 300);
const seq = symbols.map(() => 0);
const subscribers = symbols.map(() => new Set());
let drops = 0, deliveries = 0;

const nowNs = () => Math.round((performance.timeOrigin + performance.now()) * 1e6);
const pick = () => {
  const target = Math.random() * cumulative[cumulative.length - 1];
  let lo = 0, hi = cumulative.length - 1;
  while (lo < hi) { const m = (lo + hi) >> 1; if (cumulative[m] <= target) lo = m + 1; else hi = m; }
  return lo;
};
const quote = (i, ts = nowNs()) => {
  const bid = mid[i].toFixed(2);
  return { type: "quote", symbol: symbols[i], seq: seq[i], ts, bid: bid + "00", ask: (mid[i] + 0.01).toFixed(2) + "00", bidSize: 100, askSize: 200 };
};

const server = http.createServer((req, res) => {
  res.setHeader("Content-Type", "application/json");
  res.end(JSON.stringify({ deliveries, drops }));
});
const wss = new WebSocketServer({ server, perMessageDeflate: false });
wss.on("connection", (ws) => {
  ws.mine = [];
  ws.send(JSON.stringify({ type: "welcome", protocol: "tickerhub.v1", heartbeatMs: 1000 }));
  ws.on("message", (data) => {
    const m = JSON.parse(data);
    if (m.op === "list") ws.send(JSON.stringify({ type: "symbols", id: m.id, symbols }));
    if (m.op === "subscribe") {
      ws.send(JSON.stringify({ type: "ack", id: m.id, op: "subscribe", symbols: m.symbols }));
      for (const name of m.symbols) {
        const i = symbols.indexOf(name);
        if (i < 0) continue;
        subscribers[i].add(ws);
        ws.mine.push(i);
        ws.send(JSON.stringify(Object.assign(quote(i), { type: "snapshot" })));
      }
    }
  });
  ws.on("close", () => ws.mine.forEach((i) => subscribers[i].delete(ws)));
});

for (let i = 0; i < symbolCount; i++) seq[i] = 1;
// Tick n is due at start + n / rate, and carries that time as its ts: when fan-out keeps this one
// thread busy, ticks fall behind schedule, and that lag must show as latency (no coordinated omission).
const start = performance.now();
let generated = 0;
setInterval(() => {
  // Only the ticks due by now: new ones wait for the next callback, so sockets get serviced between.
  const now = performance.now();
  while (start + (generated + 1) * 1000 / rate <= now) {
    generated += 1;
    const due = start + generated * 1000 / rate;
    const i = pick();
    mid[i] *= Math.exp(0.0005 * (Math.random() * 2 - 1));
    seq[i] += 1;
    const text = JSON.stringify(quote(i, Math.round((performance.timeOrigin + due) * 1e6)));
    for (const ws of subscribers[i]) {
      if (ws.bufferedAmount > 128 * 1024) { drops++; continue; }
      ws.send(text);
      deliveries++;
    }
  }
}, 1);

server.listen(port, "127.0.0.1", () => console.error(`node-ws hub on ${port}, ${symbolCount} symbols, ${rate} ticks/s`));
