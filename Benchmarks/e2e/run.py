#!/usr/bin/env python3
"""The end-to-end benchmark: TickerHub and its peers under the same load, one server at a time, each
in its own process, with the load in processes of its own.

    make bench-e2e                       # the full run (about 40 minutes), rewrites Benchmarks/RESULTS.md
    make bench-e2e ARGS=--quick          # a few minutes: 1,000 and 3,000 subscribers, every server
    .venv/bin/python Benchmarks/e2e/run.py --servers tickerhub,node-ws --scenarios matrix

The side-by-side matrix is driven by the neutral generator, `wsload` (Benchmarks/loadgen: one
thread, epoll, raw sockets), with admission probes during its heaviest 1,000-client load. The
TickerHub-only scenarios use `feedsim swarm`, the tool users run. Each measured run is written as
one JSON file (configuration, results, latency histogram) into the output folder, then report.py
turns the folder into tables and PNG plots.

The run fails (exit status 1) if TickerHub did not admit every client of a matrix load: accepted,
upgraded, subscribed and still open at the end. That is the admission rule; timings are reported,
never asserted.
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
from measure import LoadSpec, SwarmSpec, measure, measure_wsload  # noqa: E402
from servers import ROOT, TickerHub, all_servers, write_market  # noqa: E402
import report  # noqa: E402


@dataclass
class Run:
    scenario: str
    label: str
    server: object
    swarm: object  # SwarmSpec (feedsim) or LoadSpec (wsload)
    rate: float = 100


# The side-by-side matrix: (subscribers, ticks/s over 500 symbols). Every client follows 10 symbols,
# spread evenly, so each tick goes to clients * 10 / 500 of them: 20k, 100k and 400k deliveries/s
# asked of 1,000 clients, 400k of 10,000 (overload: more than two cores can write), and 3k of
# 15,000 mostly idle ones (keep-alive and memory).
MATRIX = [(1000, 1000), (1000, 5000), (1000, 20000), (10000, 2000), (15000, 10)]
# Admission probes (one connection at a time: a WebSocket upgrade, and HTTP requests) run during
# this load, the heaviest that 1,000 clients ask for.
PROBED = (1000, 20000)
# The quick run (CI): a light load, and the admission check at 3,000 clients.
QUICK_MATRIX = [(1000, 1000), (3000, 2000)]
# The load both generators drive against TickerHub, to compare what each costs.
GENERATOR_LOAD = (1000, 5000)
# Order books beside quotes: 1,000 wsload clients × 10 symbols at the matrix's first two rates,
# following the quotes and trades (as the matrix does) or the books at depth 10, in one run.
BOOK_RATES = [1000, 5000]
# With the books scenario, the microbenchmarks of a book change and of what books and bars hold
# (package-benchmark, Benchmarks/Benchmarks/FanoutBenchmarks/BookBenchmarks.swift), beside a quote's.
BOOK_MICROBENCHMARKS = "Publish 1 book.*|Publish 1 tick, fan out to 1,000.*|Memory: a symbol.*"


def plan(quick: bool, servers: dict, scenarios: set, counts: list[int] | None = None) -> list[Run]:
    duration, warmup = (5, 3) if quick else (20, 5)
    runs = []
    peers = list(servers.values())

    def spec(clients, subscribe=10, **options):
        return SwarmSpec(clients=clients, subscribe=subscribe, duration=options.pop("duration", duration),
                         warmup=options.pop("warmup", warmup), settle=0 if quick else 5, **options)

    if "matrix" in scenarios:
        sizes = [(clients, rate) for clients in counts for rate in [2000]] if counts else (QUICK_MATRIX if quick else MATRIX)
        for clients, rate in sizes:
            for server in peers:
                probes = []
                if (clients, rate) == PROBED:
                    probes = ["/ws", "/healthz", "/v1/snapshot"] if server.name == "tickerhub" else ["/ws", server.stats_path]
                # Ramps of 10,000+ clients take a while on the slower peers; the window starts after them.
                load_warmup = warmup if clients <= 3000 else warmup + 10
                runs.append(Run("matrix", f"{clients:,} × 10 at {rate:g} ticks/s", server,
                                LoadSpec(clients=clients, duration=duration, warmup=load_warmup, probes=probes), rate=rate))
    hub = servers.get("tickerhub")
    if hub is None or quick:
        return runs
    if "books" in scenarios:
        for rate in BOOK_RATES:
            runs.append(Run("books", f"quotes and trades, {rate:,} ticks/s", hub, LoadSpec(clients=1000, duration=duration, warmup=warmup), rate=rate))
            runs.append(Run("books", f"book depth 10, {rate:,} ticks/s", hub,
                            LoadSpec(clients=1000, duration=duration, warmup=warmup, book_depth=10), rate=rate))
    if "generators" in scenarios:
        clients, rate = GENERATOR_LOAD
        runs.append(Run("generators", "wsload", hub, LoadSpec(clients=clients, duration=duration, warmup=warmup), rate=rate))
        runs.append(Run("generators", "feedsim swarm", hub, spec(clients, even=True), rate=rate))
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


def book_microbenchmarks(out: Path) -> None:
    """Runs the book microbenchmarks into out/microbenchmarks-books.md (report.py shows it)."""
    print("books: microbenchmarks ...", end=" ", flush=True)
    try:
        result = subprocess.run(["swift", "package", "--disable-sandbox", "benchmark", "--no-progress",
                                 "--filter", BOOK_MICROBENCHMARKS, "--format", "markdown"],
                                cwd=ROOT / "Benchmarks", capture_output=True, text=True, timeout=1800)
    except (OSError, subprocess.TimeoutExpired) as error:
        print(f"FAILED: {error}", flush=True)
        return
    start = result.stdout.find("## FanoutBenchmarks")
    if result.returncode != 0 or start < 0:
        print(f"FAILED ({result.returncode}): {(result.stderr or result.stdout)[-500:]}", flush=True)
        return
    (out / "microbenchmarks-books.md").write_text(result.stdout[start:])
    print("done", flush=True)


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
        "go": output("go", "version"),
        "python": platform.python_version(),
        "commit": output("git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="1,000 and 3,000 subscribers, 5 s per server: a few minutes")
    parser.add_argument("--servers", default="tickerhub,tickerhub-nio,floor,node-ws,go-gorilla,python-websockets,hummingbird")
    parser.add_argument("--scenarios", default="matrix,books,generators,symbols,rate,compression,slow,pacing,frequency,burst")
    parser.add_argument("--subscriber-counts", help="comma-separated client counts for the matrix, each at 2,000 ticks/s "
                        "(default: the issue's matrix; 1,000 and 3,000 with --quick)")
    parser.add_argument("--wsload", type=Path, default=ROOT / ".build" / "wsload",
                        help="the neutral load generator (make wsload builds it)")
    parser.add_argument("--bin-dir", type=Path, default=ROOT / ".build" / "release",
                        help="where tickerhub and feedsim are (default: the release build)")
    parser.add_argument("--python", default=str(ROOT / ".venv" / "bin" / "python"),
                        help="the Python with websockets, for the python-websockets peer")
    parser.add_argument("--out", type=Path, help="folder for the run files (default: Benchmarks/e2e/results/<time>)")
    parser.add_argument("--results-md", type=Path,
                        help="where to write the report (default: Benchmarks/RESULTS.md for a full run, OUT/RESULTS.md for --quick)")
    parser.add_argument("--port", type=int, default=18700, help="first server port; each run takes the next")
    parser.add_argument("--baseline-bin", type=Path,
                        help="also run the tickerhub built in this folder, as server tickerhub-baseline: a before/after "
                             "comparison in the same run, interleaved with the current build")
    args = parser.parse_args()

    if not (args.bin_dir / "feedsim").exists():
        sys.exit(f"no {args.bin_dir / 'feedsim'}: run `swift build -c release` first (make bench-e2e does)")
    if not args.wsload.exists():
        sys.exit(f"no {args.wsload}: run `make wsload` first (make bench-e2e does)")
    known = all_servers(args.python)
    if args.baseline_bin:
        known["tickerhub-baseline"] = TickerHub(name="tickerhub-baseline", own_bin_dir=args.baseline_bin.resolve())
        if "tickerhub-baseline" not in args.servers.split(","):
            args.servers += ",tickerhub-baseline"
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
    # One market for every server: the peers replay tickerhub's simulated ticks (see servers.py).
    market = write_market(args.bin_dir, logs / "ticks.txt")
    for server in servers.values():
        server.market = market
    counts = [int(c) for c in args.subscriber_counts.split(",")] if args.subscriber_counts else None
    runs = plan(args.quick, servers, set(args.scenarios.split(",")), counts)
    # Runs added to a folder that has some keep its machine description (the report's header speaks
    # for its first runs); each run file says which commit it measured.
    this_machine = machine()
    if not (out / "machine.json").exists():
        (out / "machine.json").write_text(json.dumps(this_machine, indent=2) + "\n")
    print(f"{len(runs)} runs into {out}", flush=True)
    started = time.time()
    first = len(list(out.glob("[0-9][0-9]-*.json")))  # runs added to an existing folder number on
    for index, run in enumerate(runs, start=first):
        print(f"[{index + 1 - first}/{len(runs)}] {run.scenario}: {run.label} on {run.server.name} ...", end=" ", flush=True)
        try:
            if isinstance(run.swarm, LoadSpec):
                record = measure_wsload(run.server, run.swarm, run.rate, args.port + index, args.wsload, args.bin_dir, logs)
            else:
                record = measure(run.server, run.swarm, run.rate, args.port + index, args.bin_dir, logs)
        except RuntimeError as error:
            record = {"server": run.server.name, "error": str(error)[-2000:],
                      "swarm": {"clients": run.swarm.clients, "subscribe": run.swarm.subscribe}}
            print("FAILED", flush=True)
        else:
            latency = record["latencyMs"]
            admitted = f"{record.get('subscribedOpenAtEnd', record['openAtEnd']):,}/{run.swarm.clients:,} admitted, "
            print(f"{admitted}{record['messagesPerSecond']:,} msg/s, p99 {latency['p99']} ms, "
                  f"{record['deliveriesPerCpuSecond'] or 0:,} deliveries/CPU-s, {record['rssPerConnectionKiB']} KiB/conn", flush=True)
        record.update(scenario=run.scenario, label=run.label, rate=run.rate, commit=this_machine["commit"], date=this_machine["date"])
        name = f"{index + 1:02d}-{run.scenario}-{run.server.name}-{run.swarm.clients}x{run.swarm.subscribe}-{run.rate:g}tps.json"
        (out / name).write_text(json.dumps(record) + "\n")
    if "books" in args.scenarios.split(",") and not args.quick and "tickerhub" in servers:
        book_microbenchmarks(out)
    print(f"done in {time.time() - started:.0f} s", flush=True)
    results_md = args.results_md or (out / "RESULTS.md" if args.quick else ROOT / "Benchmarks" / "RESULTS.md")
    report.generate(out, results_md)
    print(f"wrote {results_md} and plots in {out}")
    records = [(path.name, json.loads(path.read_text())) for path in sorted(out.glob("[0-9][0-9]-*.json"))]
    failed = [name for name, record in records if "error" in record]
    if failed:
        sys.exit(f"failed runs: {', '.join(failed)}")
    # The admission rule: every client of every matrix load accepted, upgraded, subscribed, kept.
    starved = [f"{name}: {record['subscribedOpenAtEnd']:,} of {record['swarm']['clients']:,}"
               for name, record in records
               if record.get("scenario") == "matrix" and record["server"] in ("tickerhub", "tickerhub-nio")
               and record["subscribedOpenAtEnd"] < record["swarm"]["clients"]]
    if starved:
        sys.exit("TickerHub did not admit every client (subscribed and open at the end): " + "; ".join(starved))


if __name__ == "__main__":
    main()
