#!/usr/bin/env python3
"""The end-to-end benchmark: TickerHub and its peers under the same `feedsim swarm`, one server at a
time, each in its own process, with the load in separate feedsim processes.

    make bench-e2e                       # the full run (about 45 minutes), rewrites Benchmarks/RESULTS.md
    make bench-e2e ARGS=--quick          # under 3 minutes: 1,000 subscribers, every server
    .venv/bin/python Benchmarks/e2e/run.py --servers tickerhub,node-ws --scenarios subscribers

Each measured run is written as one JSON file (configuration, results, merged latency histogram)
into the output folder, then report.py turns the folder into tables and PNG plots.
"""
import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure import SwarmSpec, measure  # noqa: E402
from servers import ROOT, TickerHub, all_servers  # noqa: E402
import report  # noqa: E402


@dataclass
class Run:
    scenario: str
    label: str
    server: object
    swarm: SwarmSpec
    rate: float = 100


# The subscriber counts of the comparison, each at the tick rates it runs at. 100 ticks/s is the
# dashboard load of the other scenarios (about 16 updates/s per client). 15,000 clients at that rate
# would ask for 240k deliveries/s, which two cores shared by the server and its load generator cannot
# serve (and no peer even finishes connecting), so the 15,000 comparison runs at 10 ticks/s (24k/s,
# within every peer's capacity here), with 5,000 at the same rate to see how each server scales.
SUBSCRIBER_RUNS = [(1000, 100), (5000, 100), (5000, 10), (15000, 10)]


def plan(quick: bool, servers: dict, scenarios: set, counts: list[int] | None = None) -> list[Run]:
    duration, warmup = (5, 2) if quick else (20, 5)
    runs = []
    peers = list(servers.values())

    def spec(clients, subscribe=10, **options):
        return SwarmSpec(clients=clients, subscribe=subscribe, duration=options.pop("duration", duration),
                         warmup=options.pop("warmup", warmup), settle=0 if quick else 5, **options)

    if "subscribers" in scenarios:
        if counts:
            sizes = [(clients, rate) for clients in counts for rate in [100 if clients <= 5000 else 10]]
        else:
            sizes = [(1000, 100)] if quick else SUBSCRIBER_RUNS
        for clients, rate in sizes:
            for server in peers:
                runs.append(Run("subscribers", f"{clients:,} × 10 at {rate} ticks/s", server, spec(clients), rate=rate))
    hub = servers.get("tickerhub")
    if hub is None or quick:
        return runs
    if "symbols" in scenarios:
        for subscribe in [1, 10, 500]:
            runs.append(Run("symbols", f"1,000 × {subscribe}", hub, spec(1000, subscribe)))
    if "rate" in scenarios:
        for rate in [50, 200, 400, 800]:
            runs.append(Run("rate", f"{rate} ticks/s", hub, spec(1000), rate=rate))
    if "compression" in scenarios:
        runs.append(Run("compression", "off", TickerHub(["--deflate", "off", "--zstd", "off"]), spec(5000)))
        runs.append(Run("compression", "permessage-deflate (shared)", hub, spec(5000, deflate=True)))
        runs.append(Run("compression", "zstd + dictionary", hub, spec(5000, zstd=True)))
    if "slow" in scenarios:
        small_buffers = ["--max-backlog-bytes", "16384", "--socket-send-buffer", "8192"]
        runs.append(Run("slow", "clean", TickerHub(small_buffers), spec(5000, warmup=35)))
        runs.append(Run("slow", "10% read 1,000 B/s", TickerHub(small_buffers),
                        spec(5000, warmup=35, slow_fraction=0.1, slow_read_bps=1000)))
    if "pacing" in scenarios:
        for delay in [0, 5, 20]:
            runs.append(Run("pacing", f"--max-drain-delay-ms {delay}", TickerHub(["--max-drain-delay-ms", str(delay)]), spec(5000)))
    if "frequency" in scenarios:
        # Per-subscription maxFrequency: every client asks for at most F updates/s per symbol.
        for frequency in [None, 10, 4, 1]:
            label = "every update" if frequency is None else f"maxFrequency {frequency}/s"
            runs.append(Run("frequency", label, hub, spec(5000, max_frequency=frequency)))
    if "burst" in scenarios:
        runs.append(Run("burst", "10× rate for 2 s every 10 s", TickerHub(["--burst-every", "10", "--burst-for", "2"]),
                        spec(5000, duration=30)))
    return runs


def machine() -> dict:
    def output(*command):
        try:
            return subprocess.run(command, capture_output=True, text=True, timeout=30).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return ""
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "cores": os.cpu_count(),
        "memoryGiB": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "kernel": platform.release(),
        "swift": output("swift", "--version").splitlines()[0] if output("swift", "--version") else "",
        "node": output("node", "--version"),
        "python": platform.python_version(),
        "commit": output("git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="1,000 subscribers, 5 s per server: under 3 minutes")
    parser.add_argument("--servers", default="tickerhub,node-ws,python-websockets,hummingbird")
    parser.add_argument("--scenarios", default="subscribers,symbols,rate,compression,slow,pacing,frequency,burst")
    parser.add_argument("--subscriber-counts", help="comma-separated client counts of the subscribers scenario "
                        "(default: 1,000 and 5,000 at 100 ticks/s, 5,000 and 15,000 at 10; 1,000 with --quick; "
                        "a count given here runs at 100 ticks/s up to 5,000 and at 10 above)")
    parser.add_argument("--bin-dir", type=Path, default=ROOT / ".build" / "release",
                        help="where tickerhub and feedsim are (default: the release build)")
    parser.add_argument("--python", default=str(ROOT / ".venv" / "bin" / "python"),
                        help="the Python with websockets, for the python-websockets peer")
    parser.add_argument("--out", type=Path, help="folder for the run files (default: Benchmarks/e2e/results/<time>)")
    parser.add_argument("--results-md", type=Path,
                        help="where to write the report (default: Benchmarks/RESULTS.md for a full run, OUT/RESULTS.md for --quick)")
    parser.add_argument("--port", type=int, default=18700, help="first server port; each run takes the next")
    args = parser.parse_args()

    if not (args.bin_dir / "feedsim").exists():
        sys.exit(f"no {args.bin_dir / 'feedsim'}: run `swift build -c release` first (make bench-e2e does)")
    known = all_servers(args.python)
    servers = {}
    for name in args.servers.split(","):
        if name not in known:
            sys.exit(f"unknown server {name}; known: {', '.join(known)}")
        missing = known[name].available(args.bin_dir)
        if missing:
            sys.exit(f"{name} cannot run here: {missing}")
        servers[name] = known[name]
    for server in servers.values():
        server.prepare(args.bin_dir)

    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = args.out or ROOT / "Benchmarks" / "e2e" / "results" / (stamp + ("-quick" if args.quick else ""))
    out.mkdir(parents=True, exist_ok=True)
    logs = out / "logs"
    logs.mkdir(exist_ok=True)
    counts = [int(c) for c in args.subscriber_counts.split(",")] if args.subscriber_counts else None
    runs = plan(args.quick, servers, set(args.scenarios.split(",")), counts)
    (out / "machine.json").write_text(json.dumps(machine(), indent=2) + "\n")
    print(f"{len(runs)} runs into {out}", flush=True)
    started = time.time()
    first = len(list(out.glob("[0-9][0-9]-*.json")))  # runs added to an existing folder number on
    for index, run in enumerate(runs, start=first):
        print(f"[{index + 1 - first}/{len(runs)}] {run.scenario}: {run.label} on {run.server.name} ...", end=" ", flush=True)
        try:
            record = measure(run.server, run.swarm, run.rate, args.port + index, args.bin_dir, logs)
        except RuntimeError as error:
            record = {"server": run.server.name, "error": str(error)[-2000:],
                      "swarm": {"clients": run.swarm.clients, "subscribe": run.swarm.subscribe}}
            print("FAILED", flush=True)
        else:
            latency = record["latencyMs"]
            print(f"{record['messagesPerSecond']:,} msg/s, p99 {latency['p99']} ms, "
                  f"{record['deliveriesPerCpuSecond'] or 0:,} deliveries/CPU-s, {record['rssPerConnectionKiB']} KiB/conn", flush=True)
        record.update(scenario=run.scenario, label=run.label, rate=run.rate)
        name = f"{index + 1:02d}-{run.scenario}-{run.server.name}-{run.swarm.clients}x{run.swarm.subscribe}-{run.rate:g}tps.json"
        (out / name).write_text(json.dumps(record) + "\n")
    print(f"done in {time.time() - started:.0f} s", flush=True)
    results_md = args.results_md or (out / "RESULTS.md" if args.quick else ROOT / "Benchmarks" / "RESULTS.md")
    report.generate(out, results_md)
    print(f"wrote {results_md} and plots in {out}")
    failed = [path.name for path in sorted(out.glob("*.json")) if "error" in json.loads(path.read_text())]
    if failed:
        sys.exit(f"failed runs: {', '.join(failed)}")


if __name__ == "__main__":
    main()
