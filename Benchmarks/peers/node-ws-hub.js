// A Node `ws` hub speaking the subset of tickerhub.v1 that the load generators use (welcome, list,
// subscribe with ack + snapshot, updates with per-symbol seq and ts in ns), written the way a
// typical Node fan-out is: one string per tick, then ws.send(string) to each subscriber (ws frames
// the message for every socket). Slow sockets are skipped past 128 KiB buffered, like TickerHub's
// write-buffer high-water mark. The market is the tick script every server of a comparison replays
// (`feedsim ticks`, see run.py): the same symbols, prices and messages as tickerhub's own simulator,
// each tick stamped with the time it was due, so a fan-out that falls behind shows as latency.
//
//   NODE_PATH=/usr/share/nodejs node Benchmarks/peers/node-ws-hub.js --port 18600 --rate 100 --ticks ticks.txt
const { WebSocketServer } = require("ws");
const fs = require("fs");
const http = require("http");
const { performance } = require("perf_hooks");

const args = Object.fromEntries(process.argv.slice(2).reduce((pairs, value, index, all) =>
  index % 2 === 0 ? pairs.concat([[value.replace(/^--/, ""), all[index + 1]]]) : pairs, []));
const port = Number(args.port || 18600);
const rate = Number(args.rate || 100);
if (!args.ticks) throw new Error("--ticks FILE is required (feedsim ticks --out FILE writes one)");

// The script: "symbols A B ...", one opening quote per symbol, then the ticks ("<type> <index> <fields>").
const lines = fs.readFileSync(args.ticks, "utf8").split("\n").filter(Boolean);
const symbols = lines[0].split(" ").slice(1);
const parse = (line) => {
  const first = line.indexOf(" "), second = line.indexOf(" ", first + 1);
  return { type: line.slice(0, first), index: Number(line.slice(first + 1, second)), fields: line.slice(second + 1) };
};
const latestQuote = lines.slice(1, 1 + symbols.length).map((line) => parse(line).fields);
const ticks = lines.slice(1 + symbols.length).map(parse);
const seq = symbols.map(() => 1);
const lastTs = symbols.map(() => 0);
const subscribers = symbols.map(() => new Set());
const indexOf = new Map(symbols.map((name, i) => [name, i]));
let drops = 0, deliveries = 0;

const nowNs = () => Math.round((performance.timeOrigin + performance.now()) * 1e6);
const message = (type, i, ts, fields) => `{"type":"${type}","symbol":"${symbols[i]}","seq":${seq[i]},"ts":${ts},${fields}}`;

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
        const i = indexOf.get(name);
        if (i === undefined) continue;
        subscribers[i].add(ws);
        ws.mine.push(i);
        ws.send(message("snapshot", i, lastTs[i] || nowNs(), latestQuote[i]));
      }
    }
  });
  ws.on("close", () => ws.mine.forEach((i) => subscribers[i].delete(ws)));
});

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
    const tick = ticks[(generated - 1) % ticks.length];
    const i = tick.index;
    seq[i] += 1;
    lastTs[i] = Math.round((performance.timeOrigin + due) * 1e6);
    if (tick.type === "quote") latestQuote[i] = tick.fields;
    const text = message(tick.type, i, lastTs[i], tick.fields);
    for (const ws of subscribers[i]) {
      if (ws.bufferedAmount > 128 * 1024) { drops++; continue; }
      ws.send(text);
      deliveries++;
    }
  }
}, 1);

server.listen(port, "127.0.0.1", () => console.error(`node-ws hub on ${port}, ${symbols.length} symbols, ${ticks.length} scripted ticks, ${rate} ticks/s`));
