"""A soak at the load the benchmarks call busy (issue 24, item 6): one hub (release build, defaults,
500 symbols at 5,000 ticks/s), 1,000 steady subscribers for the whole run, and 2,000 more that
connect, subscribe, hold ~13 s and leave, over and over (a new wave every ~15 s). Every minute: the
hub's RSS, heap, open descriptors and connections; the steady clients' deliveries, p99 latency and
the updates their seq gaps skipped, beside the hub's `drops + throttled` for that minute (which
also counts the churned clients' skips, so it is an upper bound of the steady clients' gaps; the
steady clients' exact `dropped` per connection is checked in the integration tests). The pass condition: no growth after the warm-up
(RSS and heap within 10% of the second minute's), and every churned client admitted.

    .venv/bin/python Benchmarks/e2e/soak.py --minutes 30        # make soak

The load is two `wsload` processes (the neutral C swarm), each cheap next to the hub. Written to
Benchmarks/e2e/results/soak-<time>.json, and printed as a table.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from processes import raise_open_file_limit, read_sample  # noqa: E402
from servers import ROOT  # noqa: E402

STEADY, CHURNED, WAVE_SECONDS = 1_000, 2_000, 15


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def stats(port: int) -> dict:
    import urllib.request
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats", timeout=10) as response:
        return json.load(response)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--rate", type=float, default=5_000)
    parser.add_argument("--bin-dir", type=Path, default=ROOT / ".build" / "release")
    parser.add_argument("--wsload", type=Path, default=ROOT / ".build" / "wsload")
    parser.add_argument("--port", type=int, default=18800)
    args = parser.parse_args()
    logs = Path(tempfile.mkdtemp(prefix="soak-"))
    hub_log = open(logs / "hub.log", "w")
    hub = subprocess.Popen([str(args.bin_dir / "tickerhub"), "--port", str(args.port), "--rate", str(args.rate),
                            "--symbols", "500", "--log-level", "warning"], stdout=hub_log, stderr=subprocess.STDOUT,
                           preexec_fn=raise_open_file_limit)
    time.sleep(2)
    seconds = args.minutes * 60
    url = f"ws://127.0.0.1:{args.port}/ws"
    report = logs / "steady.jsonl"
    steady = subprocess.Popen([str(args.wsload), "swarm", "--url", url, "--clients", str(STEADY), "--subscribe", "10",
                               "--warmup", "5", "--duration", str(seconds), "--server-pid", str(hub.pid),
                               "--report", str(report), "--report-every", "60", "--json", str(logs / "steady.json"), "--quiet"],
                              stdout=subprocess.DEVNULL, stderr=open(logs / "steady.log", "w"), preexec_fn=raise_open_file_limit)
    waves = []
    stop = threading.Event()

    def churn():
        wave = 0
        while not stop.is_set():
            out = logs / f"wave-{wave}.json"
            result = subprocess.run([str(args.wsload), "swarm", "--url", url, "--clients", str(CHURNED), "--subscribe", "10",
                                     "--warmup", "1", "--duration", str(WAVE_SECONDS - 3), "--json", str(out), "--quiet",
                                     "--source-addresses", "127.0.0.2-127.0.0.2"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=raise_open_file_limit)
            summary = json.loads(out.read_text()) if out.exists() and out.stat().st_size else {}
            waves.append({"wave": wave, "exit": result.returncode, "connected": summary.get("connected", 0),
                          "subscribed": summary.get("subscribed", 0), "closedByServer": summary.get("closedByServer"),
                          "failed": summary.get("failed")})
            out.unlink(missing_ok=True)
            wave += 1

    churner = threading.Thread(target=churn)
    churner.start()
    minutes = []
    previous = {"updates": 0, "gapUpdates": 0, "hub": 0}
    started = time.time()
    try:
        for minute in range(1, int(args.minutes) + 1):
            # The steady swarm reports at each minute of its window, which opens ~5 s in.
            time.sleep(max(0, started + 60 * minute + 12 - time.time()))
            sample, hub_stats = read_sample(hub.pid), stats(args.port)
            lines = report.read_text().splitlines() if report.exists() else []
            steady_now = json.loads(lines[-1]) if lines else {}
            hub_skipped = hub_stats.get("drops", 0) + hub_stats.get("throttled", 0)
            minutes.append({"minute": minute, "rssMiB": round(sample.rss_kib / 1024, 1) if sample else None,
                            "heapMiB": round(hub_stats.get("heapBytes", 0) / 2**20, 1), "fds": open_fds(hub.pid),
                            "connections": hub_stats.get("connections"), "steadyOpen": steady_now.get("open"),
                            # Per minute, not cumulative:
                            "steadyDeliveries": steady_now.get("updates", 0) - previous["updates"],
                            "steadyP99Ms": (steady_now.get("latencyMs") or {}).get("p99"),
                            "steadyGapUpdates": steady_now.get("gapUpdates", 0) - previous["gapUpdates"],
                            "hubDropsPlusThrottled": hub_skipped - previous["hub"],
                            "waves": len(waves)})
            previous = {"updates": steady_now.get("updates", 0), "gapUpdates": steady_now.get("gapUpdates", 0), "hub": hub_skipped}
            print(json.dumps(minutes[-1]), flush=True)
    finally:
        stop.set()
        steady.wait()
        churner.join()
        hub.terminate()
        hub.wait(timeout=20)
    warm = minutes[1] if len(minutes) > 1 else minutes[0]
    last = minutes[-1]
    grew = {key: (warm[key], last[key]) for key in ("rssMiB", "heapMiB") if last[key] > warm[key] * 1.10}
    all_admitted = all(w["connected"] == CHURNED and w["subscribed"] == CHURNED for w in waves)
    result = {"rate": args.rate, "steady": STEADY, "churned": CHURNED, "minutes": minutes, "waves": waves,
              "grewAfterWarmup": grew, "everyChurnedClientAdmitted": all_admitted,
              "steadySummary": json.loads((logs / "steady.json").read_text()) if (logs / "steady.json").exists() else None}
    out = ROOT / "Benchmarks" / "e2e" / "results" / f"soak-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    keys = ["minute", "rssMiB", "heapMiB", "fds", "connections", "steadyOpen", "steadyDeliveries", "steadyP99Ms",
            "steadyGapUpdates", "hubDropsPlusThrottled", "waves"]
    print("| " + " | ".join(keys) + " |")
    print("|" + "---|" * len(keys))
    for row in minutes:
        print("| " + " | ".join(str(row[key]) for key in keys) + " |")
    print(f"waves: {len(waves)}, every churned client admitted: {all_admitted}; growth after warm-up: {grew or 'none'}")
    print(f"written to {out}")
    sys.exit(0 if all_admitted and not grew else 1)


if __name__ == "__main__":
    main()
