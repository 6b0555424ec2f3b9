"""One measured run: a server process, its load, and what the server costs meanwhile.

Two kinds of load:
- `measure_wsload`: the neutral generator (Benchmarks/loadgen, wsload: one thread, epoll, raw
  sockets), for the side-by-side matrix. It reads the server's CPU from /proc itself, exactly over
  its measured window, and can run admission probes (`wsload probe`, one connection at a time, in
  a process of their own) during that window.
- `measure`: one or more `feedsim swarm` processes, the tool users run, for the scenarios that need
  what only feedsim does (compression, slow readers, maxFrequency). The server's CPU and write
  counts are read from /proc four times a second and interpolated to the window every swarm
  process was measuring in, so ramp-up, warm-up and the end-of-run settle are all excluded.

Both also sample the server's RSS, and the load processes' own CPU (what the generator cost).
"""
import json
import math
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from processes import Sampler, ServerProcess, raise_open_file_limit, read_sample, safe_stats

# One swarm process holds at most this many connections (20,000 open files per process here).
CLIENTS_PER_PROCESS = 8000
# Each loopback source address gives ~28k ephemeral ports towards one server port.
CLIENTS_PER_SOURCE_ADDRESS = 25000


@dataclass
class SwarmSpec:
    clients: int
    subscribe: int = 10
    duration: float = 20
    warmup: float = 5
    deflate: bool = False
    zstd: bool = False
    slow_fraction: float = 0
    slow_read_bps: int = 1000
    max_frequency: float | None = None  # the subscribe request's maxFrequency (updates/s per symbol)
    even: bool = False  # every symbol the same number of subscribers (--spread even), as wsload does
    settle: float = 5
    extra: list = field(default_factory=list)

    def processes(self) -> int:
        return max(1, math.ceil(self.clients / CLIENTS_PER_PROCESS))


def run_swarm(spec: SwarmSpec, port: int, bin_dir: Path, log_dir: Path, seed_base: int = 7) -> list[dict]:
    """Starts the swarm's processes together and returns each one's JSON summary."""
    count = spec.processes()
    share = [spec.clients // count + (1 if i < spec.clients % count else 0) for i in range(count)]
    addresses = max(1, math.ceil(spec.clients / CLIENTS_PER_SOURCE_ADDRESS))
    runs = []
    for index, clients in enumerate(share):
        summary = Path(tempfile.mkstemp(prefix="swarm-", suffix=".json", dir=log_dir)[1])
        command = [str(bin_dir / "feedsim"), "swarm", "--url", f"ws://127.0.0.1:{port}/ws",
                   "--clients", str(clients), "--subscribe", str(spec.subscribe), "--duration", str(spec.duration),
                   "--warmup", str(spec.warmup), "--settle", str(spec.settle), "--json", str(summary),
                   "--seed", str(seed_base + index), "--threads", "1" if count > 1 else "2",
                   "--slow-fraction", str(spec.slow_fraction), "--slow-read-bps", str(spec.slow_read_bps),
                   *(["--deflate"] if spec.deflate else []), *(["--zstd"] if spec.zstd else []),
                   *(["--max-frequency", str(spec.max_frequency)] if spec.max_frequency else []),
                   *(["--spread", "even"] if spec.even else []), *spec.extra]
        if addresses > 1:
            # Spread over 127.0.0.2.., each process its own addresses.
            first = 2 + index * addresses
            command += ["--source-addresses", f"127.0.0.{first}-127.0.0.{first + addresses - 1}"]
        log = open(log_dir / f"swarm-{port}-{index}.log", "w")
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, preexec_fn=raise_open_file_limit)
        sampler = Sampler(process.pid)
        sampler.start()
        runs.append((process, summary, log, sampler))
    results = []
    for process, summary, log, sampler in runs:
        process.wait()
        sampler.stop()
        log.close()
        if process.returncode != 0 or summary.stat().st_size == 0:
            raise RuntimeError(f"feedsim swarm failed ({process.returncode}); see {log.name}:\n"
                               + Path(log.name).read_text()[-2000:])
        result = json.loads(summary.read_text())
        window = result["window"]
        # What this feedsim process cost over its own measured window.
        result["loadCpuSeconds"] = sampler.at(window["endUnixSeconds"], "cpu") - sampler.at(window["startUnixSeconds"], "cpu")
        results.append(result)
    return results


def merge_histograms(parts: list[list]) -> list[tuple[int, int]]:
    merged: dict[int, int] = {}
    for part in parts:
        for value, count in part:
            merged[value] = merged.get(value, 0) + count
    return sorted(merged.items())


def percentile(histogram: list[tuple[int, int]], q: float) -> float:
    """The smallest recorded value (µs) at or above quantile q (0-100), in ms."""
    total = sum(count for _, count in histogram)
    if not total:
        return float("nan")
    threshold = math.ceil(total * q / 100)
    seen = 0
    for value, count in histogram:
        seen += count
        if seen >= max(threshold, 1):
            return value / 1000
    return histogram[-1][0] / 1000


def measure(server, spec: SwarmSpec, rate: float, port: int, bin_dir: Path, log_dir: Path) -> dict:
    """Runs one server with one swarm; returns the run's record (config and results)."""
    process = ServerProcess(server, port, rate, bin_dir, log_dir)
    try:
        time.sleep(1.0)
        idle = read_sample(process.process.pid)
        stats_before = safe_stats(server, port)
        swarms = run_swarm(spec, port, bin_dir, log_dir)
        stats_after = safe_stats(server, port)
    finally:
        peak = process.stop()
    start = max(s["window"]["startUnixSeconds"] for s in swarms)
    end = min(s["window"]["endUnixSeconds"] for s in swarms)
    if end <= start:  # processes did not overlap (should not happen): fall back to the union
        start = min(s["window"]["startUnixSeconds"] for s in swarms)
        end = max(s["window"]["endUnixSeconds"] for s in swarms)
    sampler = process.sampler
    window = end - start
    cpu = sampler.at(end, "cpu") - sampler.at(start, "cpu")
    writes = sampler.at(end, "writes") - sampler.at(start, "writes")
    in_window = sampler.during(start, end)
    connected_rss = sorted(s.rss_kib for s in in_window)[len(in_window) // 2] if in_window else 0
    messages_per_second = sum(s["messagesPerSecond"] for s in swarms)
    deliveries = messages_per_second * window
    histogram = merge_histograms([s["latencyHistogramMicros"] for s in swarms])
    connected = sum(s["connected"] for s in swarms)
    idle_rss = idle.rss_kib if idle else 0
    return {
        "server": server.name,
        "serverDescription": server.description,
        "serverArgs": getattr(server, "extra_args", []),
        "generator": "feedsim",
        "rate": rate,
        "swarm": {"clients": spec.clients, "subscribe": spec.subscribe, "duration": spec.duration,
                  "warmup": spec.warmup, "processes": spec.processes(), "deflate": spec.deflate, "zstd": spec.zstd,
                  "slowFraction": spec.slow_fraction, "slowReadBps": spec.slow_read_bps, "maxFrequency": spec.max_frequency,
                  "feedsimConfigs": [s["config"] for s in swarms]},
        "connected": connected,
        "openAtEnd": sum(s["openAtEnd"] for s in swarms),
        "windowSeconds": round(window, 3),
        "messagesPerSecond": round(messages_per_second),
        "latencyMs": {name: round(percentile(histogram, q), 3)
                      for name, q in [("p50", 50), ("p90", 90), ("p99", 99), ("p999", 99.9), ("max", 100)]},
        "latencyHistogramMicros": histogram,
        "gapMessages": sum(s["gapMessages"] for s in swarms),
        "conflated": sum(s["conflated"] for s in swarms),
        "evicted": sum(s["evicted"] for s in swarms),
        "closedByServer": sum(s["closedByServer"] for s in swarms),
        "fast": [s["fast"] for s in swarms] if spec.slow_fraction else None,
        "slow": [s["slow"] for s in swarms] if spec.slow_fraction else None,
        "dropAccounting": [s["dropAccounting"] for s in swarms],
        "serverCpuCores": round(cpu / window, 3) if window else None,
        "loadCpuCores": round(sum(s.get("loadCpuSeconds", 0) for s in swarms) / window, 3) if window else None,
        "loadMessagesPerCpuSecond": round(deliveries / sum(s["loadCpuSeconds"] for s in swarms))
                                    if sum(s.get("loadCpuSeconds", 0) for s in swarms) > 0 else None,
        "deliveriesPerCpuSecond": round(deliveries / cpu) if cpu > 0 else None,
        "writeSyscalls": round(writes),
        "deliveriesPerWrite": round(deliveries / writes, 2) if writes > 0 and server.write_syscalls_visible else None,
        "rssIdleMiB": round(idle_rss / 1024, 1),
        "rssConnectedMiB": round(connected_rss / 1024, 1),
        "rssPeakMiB": round(peak / 1024, 1),
        "rssPerConnectionKiB": round((connected_rss - idle_rss) / max(connected, 1), 2),
        "serverStatsBefore": stats_before,
        "serverStatsAfter": stats_after,
    }


@dataclass
class LoadSpec:
    """A wsload run: N clients, each subscribed to `subscribe` of the server's symbols, spread evenly."""
    clients: int
    subscribe: int = 10
    duration: float = 20
    warmup: float = 5
    # Admission probes during the measured window: paths to open one connection at a time to
    # ("/ws" gets a WebSocket upgrade and waits for 101; anything else a GET and its status line).
    probes: list = field(default_factory=list)
    probe_interval_ms: float = 100
    # Handshakes wsload keeps in flight at once (its default: 256); the clients count for a storm.
    concurrency: int | None = None
    # Probe from the start, through the ramp (a storm's question), instead of the measured window.
    probe_during_ramp: bool = False
    # Subscribe to the symbols' order books at this depth instead of their quotes and trades.
    book_depth: int | None = None


def source_addresses(clients: int, first: int = 2) -> list:
    """wsload flags spreading connections over loopback source addresses past ~25k."""
    count = math.ceil(clients / CLIENTS_PER_SOURCE_ADDRESS)
    return [] if count <= 1 else ["--source-addresses", f"127.0.0.{first}-127.0.0.{first + count - 1}"]


def measure_wsload(server, spec: LoadSpec, rate: float, port: int, wsload: Path, bin_dir: Path, log_dir: Path) -> dict:
    """Runs one server under the neutral generator (plus probes); returns the run's record."""
    process = ServerProcess(server, port, rate, bin_dir, log_dir)
    probes = []
    try:
        time.sleep(1.0)
        idle = read_sample(process.process.pid)
        stats_before = safe_stats(server, port)
        summary = Path(tempfile.mkstemp(prefix="wsload-", suffix=".json", dir=log_dir)[1])
        command = [str(wsload), "swarm", "--url", f"ws://127.0.0.1:{port}/ws", "--clients", str(spec.clients),
                   "--subscribe", str(spec.subscribe), "--duration", str(spec.duration), "--warmup", str(spec.warmup),
                   "--server-pid", str(process.process.pid), "--json", str(summary), "--connect-timeout", "30",
                   *source_addresses(spec.clients),
                   *(["--concurrency", str(spec.concurrency)] if spec.concurrency else []),
                   *(["--book-depth", str(spec.book_depth)] if spec.book_depth else [])]
        log = open(log_dir / f"wsload-{port}.log", "w")
        load = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, preexec_fn=raise_open_file_limit)
        load_sampler = Sampler(load.pid)
        load_sampler.start()
        if spec.probes:
            # Probe the measured window only: the ramp is its own question (every client admitted);
            # unless the ramp is the question (a storm).
            probed_seconds = spec.warmup + spec.duration - 2 if spec.probe_during_ramp else spec.duration - 2
            time.sleep(0.2 if spec.probe_during_ramp else spec.warmup + 1)
            count = max(1, int(probed_seconds * 1000 / spec.probe_interval_ms / len(spec.probes)))
            for path in spec.probes:
                scheme = "ws" if path == "/ws" else "http"
                out = log_dir / f"probe-{port}-{path.strip('/').replace('/', '_') or 'root'}.json"
                probes.append((path, out, subprocess.Popen(
                    [str(wsload), "probe", "--url", f"{scheme}://127.0.0.1:{port}{path}", "--count", str(count),
                     "--interval-ms", str(spec.probe_interval_ms * len(spec.probes)), "--timeout", "5", "--json", str(out)],
                    stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)))
        load.wait()
        load_sampler.stop()
        log.close()
        for _, _, probe in probes:
            probe.wait()
        stats_after = safe_stats(server, port)
        if load.returncode != 0 or summary.stat().st_size == 0:
            raise RuntimeError(f"wsload failed ({load.returncode}):\n" + (log_dir / f"wsload-{port}.log").read_text()[-2000:])
        result = json.loads(summary.read_text())
    finally:
        peak = process.stop()
    start, end = result["window"]["startUnixSeconds"], result["window"]["endUnixSeconds"]
    in_window = process.sampler.during(start, end)
    connected_rss = sorted(s.rss_kib for s in in_window)[len(in_window) // 2] if in_window else 0
    idle_rss = idle.rss_kib if idle else 0
    open_at_end = result["openAtEnd"]
    probe_results = {}
    for path, out, _ in probes:
        try:
            probe_results[path] = json.loads(out.read_text())
        except (OSError, ValueError):
            probe_results[path] = {"error": "no result"}
    return {
        "server": server.name,
        "serverDescription": server.description,
        "serverArgs": getattr(server, "extra_args", []),
        "generator": "wsload",
        "rate": rate,
        "swarm": {"clients": spec.clients, "subscribe": spec.subscribe, "duration": spec.duration, "warmup": spec.warmup,
                  "bookDepth": spec.book_depth},
        "bytesPerDelivery": round(result["bytes"] / max(1, result["updates"]), 1) if "updates" in result else None,
        "connected": result["connected"],
        "subscribed": result["subscribed"],
        "openAtEnd": open_at_end,
        "subscribedOpenAtEnd": result["subscribedOpenAtEnd"],
        "failedConnects": result["failed"],
        "closedByServer": result["closedByServer"],
        "rampSeconds": result["rampSeconds"],
        "upgradeMs": result["upgradeMs"],
        "windowSeconds": result["window"]["seconds"],
        "messagesPerSecond": round(result["messagesPerSecond"]),
        "latencyMs": result["latencyMs"],
        "latencyHistogramMicros": result["latencyHistogramMicros"],
        "gapMessages": result["gapMessages"],
        "conflated": result["conflated"],
        "heartbeats": result["heartbeats"],
        "messagesPerRead": result["messagesPerRead"],
        "serverCpuCores": round(result["serverCpuCores"], 3),
        "deliveriesPerCpuSecond": round(result["deliveriesPerServerCpuSecond"]) if result["deliveriesPerServerCpuSecond"] > 0 else None,
        "loadCpuCores": round(result["loadCpuCores"], 3),
        "loadMessagesPerCpuSecond": round(result["messagesPerLoadCpuSecond"]),
        "rssIdleMiB": round(idle_rss / 1024, 1),
        "rssConnectedMiB": round(connected_rss / 1024, 1),
        "rssPeakMiB": round(peak / 1024, 1),
        "rssPerConnectionKiB": round((connected_rss - idle_rss) / max(open_at_end, 1), 2),
        "probes": probe_results,
        "serverStatsBefore": stats_before,
        "serverStatsAfter": stats_after,
    }
