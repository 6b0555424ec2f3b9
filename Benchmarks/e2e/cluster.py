"""What NATS costs, and how many connections a cluster holds on this machine (issue 16).

Two measurements, each written to Benchmarks/e2e/results/cluster-<time>.json and printed as tables
(copied by hand into Benchmarks/ANALYSIS.md, "Hubs fed through NATS"):

- `feed`: the same hub and the same swarm, fed by the embedded simulator or through a real
  nats-server by `feedsim publish --nats` at the same rate over the same market (500 symbols, seed
  42). Rounds interleave the two, so drift on the shared cores falls on both. Reports deliveries/s,
  latency percentiles, the hub's CPU and deliveries per hub CPU-second, and what nats-server and
  the publisher cost beside it.
- `connections`: a 3-node nats-server cluster (routes on loopback), 3 hubs fed by it, and one
  `feedsim swarm` process per hub holding `--per-hub` connections (15,000 by default: 45,000 in
  all, each process under the 20,000 open files a process may have). Reports connects, failures,
  connections open at the end, each hub's RSS, and the latency clients saw meanwhile.

    python3 Benchmarks/e2e/cluster.py feed --rate 5000,25000 --clients 1000
    python3 Benchmarks/e2e/cluster.py connections --per-hub 15000
"""
import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "IntegrationTests"))

from measure import SwarmSpec, measure, merge_histograms, percentile   # noqa: E402
from processes import Sampler, peak_rss_kib, raise_open_file_limit, read_sample   # noqa: E402
from servers import MARKET_SEED, MARKET_SYMBOLS, TickerHub   # noqa: E402
from cluster import NATSCluster, free_port, wait_for_port   # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def start_publisher(bin_dir: Path, nats_urls: str, rate: float, log_dir: Path) -> subprocess.Popen:
    log = open(log_dir / "publisher.log", "w")
    process = subprocess.Popen([str(bin_dir / "feedsim"), "publish", "--nats", nats_urls, "--rate", str(rate),
                                "--symbols", str(MARKET_SYMBOLS), "--seed", str(MARKET_SEED)], stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 15
    while "publishing to NATS" not in (log_dir / "publisher.log").read_text():
        if process.poll() is not None or time.time() > deadline:
            raise RuntimeError("publisher did not start:\n" + (log_dir / "publisher.log").read_text())
        time.sleep(0.05)
    return process


def stop(process: subprocess.Popen):
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def cpu_between(sampler: Sampler, start: float, end: float) -> float:
    return sampler.at(end, "cpu") - sampler.at(start, "cpu")


def feed(args, bin_dir: Path, log_dir: Path) -> list[dict]:
    # Even spread: every symbol the same number of subscribers. (With zipf, which symbols are hot
    # depends on the order the hub lists them in: busiest first for the simulator, arrival order
    # for NATS, which would change the load, not the feed.)
    spec = SwarmSpec(clients=args.clients, subscribe=args.subscribe, duration=args.duration, warmup=args.warmup, even=True)
    runs = []
    for round_index in range(args.rounds):
        for mode in ("embedded", "nats"):
            port = free_port()
            if mode == "embedded":
                run = measure(TickerHub(), spec, args.rate, port, bin_dir, log_dir)
            else:
                nats = NATSCluster(1)
                publisher = start_publisher(bin_dir, nats.url(0), args.rate, log_dir)
                side = [Sampler(nats.processes[0].pid), Sampler(publisher.pid)]
                for sampler in side:
                    sampler.start()
                try:
                    run = measure(TickerHub(["--feed", nats.url(0)], name="tickerhub-nats"), spec, args.rate, port, bin_dir, log_dir)
                finally:
                    for sampler in side:
                        sampler.stop()
                    stop(publisher)
                    nats.stop()
                # The feed's side runs at a constant rate whatever the swarm does: averaged over the run.
                life = (side[0].samples[0].at, side[0].samples[-1].at)
                run["natsServerCpuCores"] = round(cpu_between(side[0], *life) / (life[1] - life[0]), 3)
                run["publisherCpuCores"] = round(cpu_between(side[1], *life) / (life[1] - life[0]), 3)
            run["mode"], run["round"] = mode, round_index
            print(f"rate {args.rate:.0f} {mode:8} round {round_index}: {run['messagesPerSecond']:>9} deliveries/s  p50 {run['latencyMs']['p50']} ms  "
                  f"p99 {run['latencyMs']['p99']} ms  hub {run['serverCpuCores']} cores  "
                  f"{run['deliveriesPerCpuSecond']} deliveries/hub CPU-s"
                  + (f"  nats-server {run['natsServerCpuCores']} publisher {run['publisherCpuCores']} cores" if mode == "nats" else ""),
                  flush=True)
            runs.append(run)
    return runs


def connections(args, bin_dir: Path, log_dir: Path) -> dict:
    nats = NATSCluster(3)
    hubs, logs = [], []
    try:
        publisher = start_publisher(bin_dir, nats.urls(0), args.rate, log_dir)
        for index in range(3):
            port = free_port()
            log = open(log_dir / f"hub-{index}.log", "w")
            hubs.append((subprocess.Popen([str(bin_dir / "tickerhub"), "--port", str(port), "--feed", nats.urls(index),
                                           "--log-level", "warning"], stdout=log, stderr=subprocess.STDOUT,
                                          preexec_fn=raise_open_file_limit), port))
            logs.append(log)
        for _, port in hubs:
            wait_for_port(port)
        time.sleep(3)   # warm start
        idle = [read_sample(process.pid).rss_kib for process, _ in hubs]
        samplers = [Sampler(process.pid) for process, _ in hubs]
        for sampler in samplers:
            sampler.start()
        swarms = []
        for index, (_, port) in enumerate(hubs):
            summary = log_dir / f"swarm-{index}.json"
            swarm_log = open(log_dir / f"swarm-{index}.log", "w")
            swarms.append((subprocess.Popen(
                [str(bin_dir / "feedsim"), "swarm", "--url", f"ws://127.0.0.1:{port}/ws", "--clients", str(args.per_hub),
                 "--subscribe", str(args.subscribe), "--duration", str(args.duration), "--warmup", str(args.warmup),
                 "--threads", "1", "--concurrency", "128", "--spread", "even", "--seed", str(7 + index), "--json", str(summary)],
                stdout=swarm_log, stderr=subprocess.STDOUT, preexec_fn=raise_open_file_limit), summary))
        results = []
        for process, summary in swarms:
            process.wait()
            results.append(json.loads(summary.read_text()))
        for sampler in samplers:
            sampler.stop()
        start = max(r["window"]["startUnixSeconds"] for r in results)
        end = min(r["window"]["endUnixSeconds"] for r in results)
        rss = []
        for sampler in samplers:
            inside = sorted(s.rss_kib for s in sampler.during(start, end)) or [sampler.samples[-1].rss_kib]
            rss.append(inside[len(inside) // 2])
        peaks = [peak_rss_kib(process.pid) for process, _ in hubs]
        histogram = merge_histograms([r["latencyHistogramMicros"] for r in results])
        connected = [r["connected"] for r in results]
        record = {
            "perHub": args.per_hub, "subscribe": args.subscribe, "rate": args.rate,
            "connected": sum(connected), "failed": sum(r["failed"] for r in results),
            "openAtEnd": sum(r["openAtEnd"] for r in results), "connectedPerHub": connected,
            "messagesPerSecond": round(sum(r["messagesPerSecond"] for r in results)),
            "latencyMs": {name: round(percentile(histogram, q), 3) for name, q in [("p50", 50), ("p99", 99), ("max", 100)]},
            "seqRegressions": sum(r["seqRegressions"] for r in results),
            "hubRssIdleMiB": [round(k / 1024, 1) for k in idle], "hubRssConnectedMiB": [round(k / 1024, 1) for k in rss],
            "hubRssPeakMiB": [round(k / 1024, 1) for k in peaks],
            "rssPerConnectionKiB": [round((r - i) / max(c, 1), 2) for r, i, c in zip(rss, idle, connected)],
            "hubCpuCores": [round(cpu_between(s, start, end) / (end - start), 3) for s in samplers],
        }
        print(json.dumps({k: v for k, v in record.items()}, indent=1), flush=True)
        return record
    finally:
        for process, _ in hubs:
            stop(process)
        if 'publisher' in locals():
            stop(publisher)
        nats.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["feed", "connections"])
    parser.add_argument("--bin-dir", default=str(ROOT / ".build" / "release"))
    parser.add_argument("--rate", type=str, default=None, help="ticks per second (feed: several, comma-separated)")
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--subscribe", type=int, default=10)
    parser.add_argument("--duration", type=float, default=15)
    parser.add_argument("--warmup", type=float, default=3)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--per-hub", type=int, default=15000)
    args = parser.parse_args()
    rates = [float(r) for r in (args.rate or ("5000,25000" if args.what == "feed" else "50")).split(",")]
    if args.what == "connections":
        args.subscribe = args.subscribe if args.subscribe != 10 else 2
    bin_dir = Path(args.bin_dir)
    log_dir = Path(tempfile.mkdtemp(prefix="tickerhub-cluster-"))
    print(f"logs in {log_dir}", flush=True)
    if args.what == "feed":
        result = []
        for rate in rates:
            args.rate = rate
            result += feed(args, bin_dir, log_dir)
    else:
        args.rate = rates[0]
        result = connections(args, bin_dir, log_dir)
    out = ROOT / "Benchmarks" / "e2e" / "results" / f"cluster-{args.what}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps({"args": vars(args), "result": result}, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
