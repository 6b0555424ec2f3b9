"""A reconnect storm (issue 24, item 2): N clients connect at once, as after a network blip at the
busiest minute of the day, against TickerHub and its peers in turn, each in its own process and
with the same neutral swarm (`wsload`, every connect issued in the first turn, no cap on handshakes
in flight). Asked of every server: every client upgraded, none closed by the server, how long it
took to admit them all, and what a newcomer waits for its `101` meanwhile (probe p99, from the
first second of the storm).

    .venv/bin/python Benchmarks/e2e/storm.py --clients 15000 --servers tickerhub,node-ws,go-gorilla

Written to Benchmarks/e2e/results/storm-<time>.json and printed as a table.
"""
import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from measure import LoadSpec, measure_wsload  # noqa: E402
from servers import ROOT, TickerHub, all_servers, write_market  # noqa: E402

RATE = 10  # ticks per second: the storm's cost is admission, not fan-out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=15_000)
    parser.add_argument("--servers", default="tickerhub,node-ws,go-gorilla")
    parser.add_argument("--bin-dir", type=Path, default=ROOT / ".build" / "release")
    parser.add_argument("--wsload", type=Path, default=ROOT / ".build" / "wsload")
    parser.add_argument("--port", type=int, default=18700)
    parser.add_argument("--tickerhub-args", default="", help="extra flags for every tickerhub, space-separated")
    parser.add_argument("--before-bin-dir", type=Path, help="also run the tickerhub built there (a before/after in one run)")
    args = parser.parse_args()
    logs = Path(tempfile.mkdtemp(prefix="storm-"))
    market = write_market(args.bin_dir, logs / "ticks.txt")
    wanted = args.servers.split(",")
    servers = [server for name, server in all_servers(str(ROOT / ".venv" / "bin" / "python")).items() if name in wanted]
    if args.before_bin_dir:
        servers.insert(0, TickerHub(name="tickerhub-before", own_bin_dir=args.before_bin_dir))
    for server in servers:
        if isinstance(server, TickerHub):
            server.extra_args = [*server.extra_args, *args.tickerhub_args.split()]
    # Long enough after the storm for TCP's resends of every dropped packet (the last at ~13 s).
    spec = LoadSpec(clients=args.clients, subscribe=10, warmup=25, duration=5, probes=["/ws"], probe_interval_ms=50,
                    concurrency=args.clients, probe_during_ramp=True)
    rows = []
    for offset, server in enumerate(servers):
        reason = server.available(args.bin_dir)
        if reason:
            print(f"{server.name}: skipped, {reason}")
            continue
        server.market = market
        server.prepare(args.bin_dir)
        record = measure_wsload(server, spec, RATE, args.port + offset, args.wsload, args.bin_dir, logs)
        probe = record["probes"].get("/ws", {})
        stats = record["serverStatsAfter"] if isinstance(record["serverStatsAfter"], dict) else {}
        rows.append({"server": server.name, "clients": args.clients, "upgraded": record["connected"],
                     "openAtEnd": record["openAtEnd"], "closedByServer": record["closedByServer"],
                     "failedConnects": record["failedConnects"], "admitAllSeconds": record["rampSeconds"],
                     "probeP99Ms": (probe.get("ms") or {}).get("p99"), "probeFailures": probe.get("failed"),
                     "requestTimeouts": stats.get("requestTimeouts"), "rssConnectedMiB": record["rssConnectedMiB"]})
        time.sleep(2)
    out = ROOT / "Benchmarks" / "e2e" / "results" / f"storm-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(rows, indent=1))
    header = ["server", "upgraded", "openAtEnd", "closedByServer", "failedConnects", "admitAllSeconds", "probeP99Ms",
              "probeFailures", "requestTimeouts", "rssConnectedMiB"]
    print(f"\n{args.clients} clients at once, {RATE} ticks/s (logs in {logs})")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(str(row.get(key)) for key in header) + " |")
    print(f"written to {out}")


if __name__ == "__main__":
    main()
