/// The live dashboard served at `GET /`: a plain page (no build step, no external assets) that
/// connects to `/ws`, subscribes, and shows quotes, trades, seq gaps, message rate and latency.
/// It doubles as the browser-JS example of the protocol.
enum DashboardPage {
    static let html = #"""
    <!doctype html>
    <html lang="en">
    <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>TickerHub</title>
    <style>
      body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; background: #0f1419; color: #d8dee4; }
      h1 { font-size: 1.2rem; margin: 0 0 .8rem; }
      #bar { display: flex; gap: 1.2rem; flex-wrap: wrap; align-items: center; margin-bottom: 1rem; }
      input { background: #1b232c; color: inherit; border: 1px solid #344; padding: .3rem .5rem; width: 26rem; }
      button { background: #2a6; color: #fff; border: 0; padding: .35rem .8rem; cursor: pointer; }
      table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
      th, td { padding: .25rem .8rem; text-align: right; border-bottom: 1px solid #223; }
      th:first-child, td:first-child { text-align: left; }
      .up { color: #4c8; } .down { color: #e66; } .gap { color: #fb3; }
      #status.ok { color: #4c8; } #status.bad { color: #e66; }
      small { color: #789; }
    </style>
    </head>
    <body>
    <h1>TickerHub <small>live market data over WebSocket, protocol tickerhub.v1</small></h1>
    <div id="bar">
      <span>status: <b id="status">connecting</b></span>
      <span>messages/s: <b id="rate">0</b></span>
      <span>latency p50: <b id="p50">–</b> ms, max: <b id="pmax">–</b> ms</span>
      <span>gaps: <b id="gaps">0</b></span>
      <span>compression: <b id="extension">–</b></span>
      <a href="/stats" style="color:#8ac">/stats</a>
    </div>
    <div id="bar2" style="margin-bottom:1rem">
      <input id="symbols" placeholder="AAPL,MSFT,...">
      <button id="apply">subscribe</button>
    </div>
    <table>
      <thead><tr><th>symbol</th><th>bid</th><th>ask</th><th>bid size</th><th>ask size</th><th>last</th><th>last size</th><th>seq</th><th>gaps</th></tr></thead>
      <tbody id="rows"></tbody>
    </table>
    <script>
    "use strict";
    const rows = new Map();          // symbol -> {tr, cells, seq, gaps}
    let ws, nextId = 1, count = 0, gaps = 0, latencies = [], subscribed = [];
    const $ = id => document.getElementById(id);

    function row(symbol) {
      let r = rows.get(symbol);
      if (r) return r;
      const tr = document.createElement("tr");
      const cells = {};
      for (const k of ["symbol","bid","ask","bidSize","askSize","last","lastSize","seq","gaps"]) {
        const td = document.createElement("td"); tr.appendChild(td); cells[k] = td;
      }
      cells.symbol.textContent = symbol;
      $("rows").appendChild(tr);
      r = { tr, cells, seq: 0, gaps: 0 };
      rows.set(symbol, r);
      return r;
    }

    function setPrice(td, value) {
      if (value === undefined) return;
      const old = parseFloat(td.textContent), now = parseFloat(value);
      td.className = isNaN(old) || old === now ? "" : (now > old ? "up" : "down");
      td.textContent = value;
    }

    function apply(r, m) {
      setPrice(r.cells.bid, m.bid); setPrice(r.cells.ask, m.ask);
      if (m.bidSize !== undefined) { r.cells.bidSize.textContent = m.bidSize; r.cells.askSize.textContent = m.askSize; }
      if (m.type === "trade") { setPrice(r.cells.last, m.price); r.cells.lastSize.textContent = m.size; }
      if (m.last !== undefined) { setPrice(r.cells.last, m.last); r.cells.lastSize.textContent = m.lastSize; }
      r.cells.seq.textContent = m.seq;
    }

    function connect() {
      ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws");
      ws.onopen = () => { $("status").textContent = "connected"; $("status").className = "ok";
                          $("extension").textContent = ws.extensions || "none"; subscribe(); };
      ws.onclose = () => { $("status").textContent = "disconnected, retrying"; $("status").className = "bad";
                           setTimeout(connect, 1000 + Math.random() * 1000); };
      ws.onmessage = ev => {
        const m = JSON.parse(ev.data);
        switch (m.type) {
          case "snapshot": { const r = row(m.symbol); r.seq = m.seq; apply(r, m); break; }
          case "quote": case "trade": case "conflated": {
            const r = row(m.symbol);
            if (r.seq && m.seq !== r.seq + 1) { const missed = m.seq - r.seq - 1; r.gaps += missed; gaps += missed;
              r.cells.gaps.textContent = r.gaps; r.cells.gaps.className = "gap"; $("gaps").textContent = gaps; }
            r.seq = m.seq; apply(r, m);
            count++; latencies.push(Date.now() - m.ts / 1e6);
            break;
          }
          case "error": console.warn("hub error", m); $("status").textContent = "error: " + m.code; break;
        }
      };
    }

    function subscribe() {
      const wanted = $("symbols").value.split(",").map(s => s.trim().toUpperCase()).filter(Boolean);
      const gone = subscribed.filter(s => !wanted.includes(s));
      if (gone.length) { ws.send(JSON.stringify({op: "unsubscribe", id: nextId++, symbols: gone}));
                         gone.forEach(s => { rows.get(s)?.tr.remove(); rows.delete(s); }); }
      ws.send(JSON.stringify({op: "subscribe", id: nextId++, symbols: wanted}));
      subscribed = wanted;
    }

    setInterval(() => {
      $("rate").textContent = count; count = 0;
      if (latencies.length) { latencies.sort((a, b) => a - b);
        $("p50").textContent = latencies[Math.floor(latencies.length / 2)].toFixed(1);
        $("pmax").textContent = latencies[latencies.length - 1].toFixed(1); latencies = []; }
    }, 1000);
    $("apply").onclick = () => ws && ws.readyState === 1 && subscribe();
    // Start with the hub's eight busiest symbols (it lists them first), whatever universe it runs.
    fetch("/v1/symbols").then(r => r.json()).then(list => {
      $("symbols").value = list.slice(0, 8).join(",");
      connect();
    });
    </script>
    </body>
    </html>
    """#
}
