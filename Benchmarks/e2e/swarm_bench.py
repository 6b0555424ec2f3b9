#!/usr/bin/env python3
"""End-to-end benchmark: a release `tickerhub` and a `feedsim swarm`, as separate processes.

Reports what load testers judge a hub by: delivered messages/s, end-to-end latency percentiles,
hub CPU per delivery (deliveries per hub CPU-second), hub RSS (total and per connection), and
whether any update was lost (seq gaps seen by clients vs drops counted by the hub).

    python3 Benchmarks/e2e/swarm_bench.py --clients 5000 --subscribe 10 --duration 20 -- --rate 100

Arguments after `--` go to tickerhub. Results are printed and appended to Benchmarks/e2e/results.jsonl.
Only standard-library Python; needs `swift build -c release` first.
"""
import argparse
import json
import os
import re
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / ".build" / "release"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def rss_kib(pid: int, field: str = "VmRSS") -> int:
    match = re.search(rf"{field}:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    return int(match.group(1)) if match else 0


STATS_PATH = "/stats"


def stats(port: int) -> dict:
    """Counters from the server: TickerHub's /stats, or the peer's `{deliveries, drops}` at /."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{STATS_PATH}", timeout=30) as response:
        return json.load(response)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=5000)
    parser.add_argument("--subscribe", type=int, default=10)
    parser.add_argument("--duration", type=float, default=20)
    parser.add_argument("--warmup", type=float, default=3)
    parser.add_argument("--port", type=int, default=18500)
    parser.add_argument("--label", default="")
    parser.add_argument("--deflate", action="store_true", help="swarm clients offer permessage-deflate")
    parser.add_argument("--zstd", action="store_true", help="swarm clients ask for the tickerhub.v1.zstd subprotocol")
    parser.add_argument("--slow-fraction", type=float, default=0.0, help="share of clients that read slowly")
    parser.add_argument("--slow-read-bps", type=int, default=1000, help="bytes per second a slow client reads")
    parser.add_argument("--server", choices=["tickerhub", "node-ws"], default="tickerhub",
                        help="node-ws runs Benchmarks/peers/node-ws-hub.js (apt node-ws) with the same market shape")
    parser.add_argument("hub_args", nargs="*")
    args = parser.parse_args()

    global STATS_PATH
    log = tempfile.NamedTemporaryFile(prefix="hub-", suffix=".log", delete=False)
    if args.server == "node-ws":
        STATS_PATH = "/"
        command = ["node", str(ROOT / "Benchmarks" / "peers" / "node-ws-hub.js"), "--port", str(args.port), *args.hub_args]
        environment = dict(os.environ, NODE_PATH="/usr/share/nodejs")
    else:
        command = [str(BIN / "tickerhub"), "--port", str(args.port), *args.hub_args]
        environment = None
    hub = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=environment)
    try:
        time.sleep(1.0)
        idle_rss = rss_kib(hub.pid)
        summary_file = tempfile.NamedTemporaryFile(suffix=".json", delete=False).name
        swarm = subprocess.Popen([str(BIN / "feedsim"), "swarm", "--url", f"ws://127.0.0.1:{args.port}/ws",
                                  "--clients", str(args.clients), "--subscribe", str(args.subscribe),
                                  "--duration", str(args.duration), "--warmup", str(args.warmup), "--json", summary_file,
                                  "--slow-fraction", str(args.slow_fraction), "--slow-read-bps", str(args.slow_read_bps),
                                  *(["--deflate"] if args.deflate else []), *(["--zstd"] if args.zstd else [])],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        # The measured window starts once the swarm prints its first progress line after warm-up;
        # approximate it by waiting for all connections plus the warm-up, sampling the hub meanwhile.
        start_cpu = start_stats = None
        peak_rss = idle_rss
        connected_rss = 0
        lines = []
        for line in swarm.stderr:
            lines.append(line)
            peak_rss = max(peak_rss, rss_kib(hub.pid))
            if line.startswith("connected"):
                time.sleep(args.warmup)
                start_cpu, start_stats, start_time = cpu_seconds(hub.pid), stats(args.port), time.time()
                connected_rss = rss_kib(hub.pid)
            if line.startswith("t=") and start_cpu is not None:
                end_cpu, end_stats, end_time = cpu_seconds(hub.pid), stats(args.port), time.time()
        swarm.wait()
        peak_rss = max(peak_rss, rss_kib(hub.pid, "VmHWM"))
        summary = json.load(open(summary_file))
    finally:
        hub.terminate()
        hub.wait(timeout=20)

    window = end_time - start_time
    hub_cpu = end_cpu - start_cpu
    deliveries = end_stats["deliveries"] - start_stats["deliveries"]
    flushes = end_stats.get("flushes", 0) - start_stats.get("flushes", 0)
    result = {
        "label": args.label, "server": args.server, "hubArgs": " ".join(args.hub_args), "clients": args.clients, "subscribe": args.subscribe,
        "connected": summary["connected"], "openAtEnd": summary["openAtEnd"],
        "messagesPerSecond": summary["messagesPerSecond"], "latencyMs": summary["latencyMs"],
        "gapMessages": summary["gapMessages"],
        "deflateOffered": args.deflate, "zstd": args.zstd, "hubFramesZstd": end_stats.get("framesZstd"), "bytes": summary.get("bytes"),
        "hubFramesDeflated": end_stats.get("framesDeflated"),
        "hubCpuSecondsPerMillionDeliveries": round(hub_cpu / deliveries * 1e6, 2) if deliveries else None,
        "slowFraction": args.slow_fraction, "slowReadBps": args.slow_read_bps if args.slow_fraction else None,
        "fast": summary.get("fast"), "slow": summary.get("slow") if args.slow_fraction else None,
        "dropAccounting": summary.get("dropAccounting"), "evicted": summary.get("evicted"),
        "hubConflated": end_stats.get("conflated"), "hubEvictions": end_stats.get("slowConsumerEvictions"),
        "hubDrops": end_stats["drops"], "hubRingLaps": end_stats.get("ringLaps"), "hubPingTimeouts": end_stats.get("pingTimeouts"),
        "hubCpuCores": round(hub_cpu / window, 3),
        "deliveriesPerHubCpuSecond": round(deliveries / hub_cpu) if hub_cpu else None,
        "deliveriesPerFlush": round(deliveries / flushes, 2) if flushes else None,
        "hubRssIdleMiB": round(idle_rss / 1024, 1), "hubRssConnectedMiB": round(connected_rss / 1024, 1),
        "hubRssPeakMiB": round(peak_rss / 1024, 1),
        "hubRssPerConnectionKiB": round((connected_rss - idle_rss) / max(summary["connected"], 1), 1),
    }
    print(json.dumps(result, indent=2))
    with open(Path(__file__).with_name("results.jsonl"), "a") as out:
        out.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
