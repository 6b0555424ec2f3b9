#!/usr/bin/env python3
"""Turns a folder of run files (from run.py) into RESULTS.md tables and PNG plots.

    .venv/bin/python Benchmarks/e2e/report.py Benchmarks/e2e/results/<run> [--results-md PATH]

Ratios compare servers measured in the same harness run, on the same machine, back to back.
Plots need matplotlib (make bench-e2e installs it); without it the tables are still written.
"""
import argparse
import json
import math
import sys
from pathlib import Path

SERVER_ORDER = ["tickerhub", "node-ws", "python-websockets", "hummingbird"]
COLORS = {"tickerhub": "#2a9d8f", "node-ws": "#e76f51", "python-websockets": "#457b9d", "hummingbird": "#b5838d"}


def load(folder: Path) -> tuple[dict, list[dict]]:
    machine = json.loads((folder / "machine.json").read_text()) if (folder / "machine.json").exists() else {}
    runs = [json.loads(path.read_text()) for path in sorted(folder.glob("[0-9][0-9]-*.json"))]
    return machine, runs


def ms(value):
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:,.1f}"


def number(value, digits=0):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:,.{digits}f}"


def ratio(ours, theirs, higher_is_better=True):
    if not ours or not theirs:
        return "n/a"
    return f"{(ours / theirs if higher_is_better else theirs / ours):.2f}×"


def order(runs):
    return sorted(runs, key=lambda r: SERVER_ORDER.index(r["server"]) if r["server"] in SERVER_ORDER else 99)


def size(run: dict) -> tuple[int, float]:
    """A comparison's size: subscribers, and the tick rate they ran at."""
    return run["swarm"]["clients"], run.get("rate", 100)


def size_title(clients: int, rate: float) -> str:
    return f"{clients:,} subscribers × 10 symbols, {rate:g} ticks/s"


def comparison_tables(runs: list[dict]) -> list[str]:
    lines = []
    by_clients: dict[tuple[int, float], list[dict]] = {}
    for run in runs:
        if run.get("scenario") == "subscribers":
            by_clients.setdefault(size(run), []).append(run)
    if not by_clients:
        return lines
    lines += ["## TickerHub and its peers, same swarm, same machine", "",
              "Each client subscribes to 10 of 500 symbols (Zipf-skewed, so the busiest symbol is followed by most "
              "clients); each server generates the stated ticks/s over its 500 symbols with Zipf(0.8) activity "
              "(100 ticks/s is about 16 updates/s per client). 15,000 clients run at 10 ticks/s: at 100 they would "
              "ask for 240k deliveries/s, more than two cores shared with the load generator can serve. "
              "*Deliveries/CPU-s* is what the swarm received per CPU-second the server used (user + system, from "
              "`/proc`) over the measured window; *per write* is deliveries per write syscall.", ""]
    header = ("| server | delivered msg/s | p50 ms | p99 ms | p99.9 ms | max ms | gaps | server CPU (cores) | "
              "deliveries / CPU-s | deliveries / write | RSS connected | RSS / connection |")
    for key in sorted(by_clients, key=lambda k: (k[0], -k[1])):
        clients = key[0]
        lines += [f"### {size_title(*key)}", "", header, "|" + "---|" * 12]
        for run in order(by_clients[key]):
            if "error" in run:
                lines.append(f"| {run['server']} | failed: {run['error'][:160]} |" + " |" * 10)
                continue
            latency = run["latencyMs"]
            connected, still_open = run["connected"], run.get("openAtEnd", run["connected"])
            note = "" if connected == clients else f" ({connected:,} connected)"
            if still_open < connected:
                note += f" ({still_open:,} still open at the end)"
            lines.append(f"| {run['server']}{note} | {number(run['messagesPerSecond'])} | {ms(latency['p50'])} | {ms(latency['p99'])} | "
                         f"{ms(latency['p999'])} | {ms(latency['max'])} | {number(run['gapMessages'])} | {run['serverCpuCores']} | "
                         f"{number(run['deliveriesPerCpuSecond'])} | {number(run['deliveriesPerWrite'], 2)} | "
                         f"{run['rssConnectedMiB']} MiB | {run['rssPerConnectionKiB']} KiB |")
        lines.append("")
    lines += ["### TickerHub against each peer (ratios from the same run)", "",
              "Above 1× means TickerHub is better: more deliveries per CPU-second, lower p99, less memory per connection.", "",
              "| subscribers | ticks/s | peer | deliveries / CPU-s | p99 latency | RSS / connection |", "|---|---|---|---|---|---|"]
    for key in sorted(by_clients, key=lambda k: (k[0], -k[1])):
        ours = next((r for r in by_clients[key] if r["server"] == "tickerhub" and "error" not in r), None)
        if not ours:
            continue
        for peer in order(r for r in by_clients[key] if r["server"] != "tickerhub"):
            if "error" in peer:
                lines.append(f"| {key[0]:,} | {key[1]:g} | {peer['server']} | failed | failed | failed |")
                continue
            served = ""
            if peer["connected"] < key[0] or peer.get("openAtEnd", peer["connected"]) < peer["connected"]:
                # A peer that did not hold every client measured a lighter load: say so next to its ratio.
                served = f" ({peer['connected']:,} of {key[0]:,} connected, {peer.get('openAtEnd', peer['connected']):,} open at the end)"
            lines.append(f"| {key[0]:,} | {key[1]:g} | {peer['server']}{served} | {ratio(ours['deliveriesPerCpuSecond'], peer['deliveriesPerCpuSecond'])} "
                         f"({number(ours['deliveriesPerCpuSecond'])} vs {number(peer['deliveriesPerCpuSecond'])}) | "
                         f"{ratio(ours['latencyMs']['p99'], peer['latencyMs']['p99'], higher_is_better=False)} "
                         f"({ms(ours['latencyMs']['p99'])} vs {ms(peer['latencyMs']['p99'])} ms) | "
                         f"{ratio(ours['rssPerConnectionKiB'], peer['rssPerConnectionKiB'], higher_is_better=False)} "
                         f"({ours['rssPerConnectionKiB']} vs {peer['rssPerConnectionKiB']} KiB) |")
    lines.append("")
    return lines


SCENARIO_TITLES = {
    "symbols": "Symbols per client (TickerHub, 1,000 subscribers, 100 ticks/s)",
    "rate": "Tick-rate sweep (TickerHub, 1,000 × 10)",
    "compression": "Compression (TickerHub, 5,000 × 10, 100 ticks/s)",
    "slow": "10% slow clients (TickerHub, 5,000 × 10, 16 KiB backlog, 8 KiB socket buffer, 35 s warm-up)",
    "pacing": "Drain pacing: messages per write against latency (TickerHub, 5,000 × 10, 100 ticks/s)",
    "frequency": "Per-subscription maxFrequency (TickerHub, 5,000 × 10, 100 ticks/s; gaps are the updates skipped "
                 "by the limit, counted by the hub as throttled; every message is a `conflated` latest value)",
    "burst": "Market-open bursts (TickerHub, 5,000 × 10, 100 ticks/s with 10× bursts)",
}


def scenario_tables(runs: list[dict]) -> list[str]:
    lines = []
    for scenario, title in SCENARIO_TITLES.items():
        chosen = [r for r in runs if r.get("scenario") == scenario]
        if not chosen:
            continue
        lines += [f"## {title}", "",
                  "| run | delivered msg/s | p50 ms | p99 ms | p99.9 ms | max ms | gaps | conflated | server CPU | "
                  "deliveries / CPU-s | deliveries / write | RSS / connection |", "|" + "---|" * 12]
        for run in chosen:
            if "error" in run:
                lines.append(f"| {run['label']} | failed: {run['error'][:120]} |" + " |" * 10)
                continue
            latency = run["latencyMs"]
            lines.append(f"| {run['label']} | {number(run['messagesPerSecond'])} | {ms(latency['p50'])} | {ms(latency['p99'])} | "
                         f"{ms(latency['p999'])} | {ms(latency['max'])} | {number(run['gapMessages'])} | {number(run['conflated'])} | "
                         f"{run['serverCpuCores']} | {number(run['deliveriesPerCpuSecond'])} | {number(run['deliveriesPerWrite'], 2)} | "
                         f"{run['rssPerConnectionKiB']} KiB |")
            if run.get("fast"):
                fast = run["fast"][0]["latencyMs"]
                lines.append(f"| ↳ fast clients only | | {ms(fast['p50'])} | {ms(fast['p99'])} | {ms(fast['p999'])} | {ms(fast['max'])} | "
                             f"{number(sum(f['gapMessages'] for f in run['fast']))} | | | | | |")
        lines.append("")
    return lines


def plots(runs: list[dict], plot_dir: Path) -> list[str]:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return ["*(plots skipped: matplotlib is not installed; `make bench-e2e` installs it)*", ""]
    plot_dir.mkdir(parents=True, exist_ok=True)
    subscribers = [r for r in runs if r.get("scenario") == "subscribers" and "error" not in r]
    made = []
    for clients, rate in sorted({size(r) for r in subscribers}, key=lambda k: (k[0], -k[1])):
        figure, axes = plt.subplots(figsize=(7, 4.2))
        for run in order(r for r in subscribers if size(r) == (clients, rate)):
            histogram = run["latencyHistogramMicros"]
            total = sum(count for _, count in histogram)
            if not total:
                continue
            xs, ys, seen = [], [], 0
            for value, count in histogram:
                seen += count
                xs.append(max(value, 1) / 1000)
                ys.append(seen / total)
            axes.step(xs, ys, where="post", label=run["server"], color=COLORS.get(run["server"]))
        axes.set_xscale("log")
        axes.set_xlabel("end-to-end latency (ms, log scale)")
        axes.set_ylabel("share of updates at or below")
        axes.set_title(f"Latency CDF, {size_title(clients, rate)}")
        axes.axhline(0.99, color="#999", linewidth=0.7, linestyle=":")
        axes.grid(True, which="both", alpha=0.3)
        axes.legend()
        name = f"latency-cdf-{clients}-{rate:g}tps.png"
        figure.tight_layout()
        figure.savefig(plot_dir / name, dpi=110)
        plt.close(figure)
        made.append((f"Latency CDF at {size_title(clients, rate)}", name))
    rates = sorted({size(r)[1] for r in subscribers}, reverse=True)
    styles = ["-", "--", ":", "-."]
    counts = sorted({r["swarm"]["clients"] for r in subscribers})
    if len(counts) > 1:
        for key, ylabel, title, name in [
            ("messagesPerSecond", "delivered messages / s", "Deliveries per second vs subscribers", "deliveries-vs-subscribers.png"),
            ("deliveriesPerCpuSecond", "deliveries per server CPU-second", "CPU efficiency vs subscribers", "efficiency-vs-subscribers.png"),
            ("rssConnectedMiB", "server RSS with all connected (MiB)", "Memory vs subscribers", "rss-vs-subscribers.png"),
        ]:
            figure, axes = plt.subplots(figsize=(7, 4.2))
            for server in SERVER_ORDER:
                for rate, style in zip(rates, styles):
                    points = sorted((r["swarm"]["clients"], r[key]) for r in subscribers
                                    if r["server"] == server and size(r)[1] == rate and r.get(key))
                    if points:
                        axes.plot([p[0] for p in points], [p[1] for p in points], marker="o", linestyle=style,
                                  label=f"{server}, {rate:g} ticks/s", color=COLORS.get(server))
            axes.set_xlabel("subscribers (10 symbols each)")
            axes.set_ylabel(ylabel)
            axes.set_title(title)
            axes.grid(True, alpha=0.3)
            axes.legend(fontsize="small")
            figure.tight_layout()
            figure.savefig(plot_dir / name, dpi=110)
            plt.close(figure)
            made.append((title, name))
    lines = ["## Plots", ""]
    for title, name in made:
        lines += [f"![{title}]({plot_dir.name}/{name})", ""]
    return lines


def generate(folder: Path, results_md: Path) -> None:
    machine, runs = load(folder)
    plot_dir = results_md.parent / "plots"
    lines = ["# Results", "",
             "*Generated by `Benchmarks/e2e/report.py` from the run files in "
             f"`{folder.relative_to(results_md.parent) if folder.is_relative_to(results_md.parent) else folder}`; "
             "do not edit by hand. Analysis and earlier investigations: [ANALYSIS.md](ANALYSIS.md).*", "",
             f"Machine: {machine.get('cores', '?')} cores, {machine.get('memoryGiB', '?')} GiB, Linux {machine.get('kernel', '')}, "
             f"{machine.get('swift', '')}, Node {machine.get('node', '')}, Python {machine.get('python', '')}; "
             f"commit {machine.get('commit', '?')}, {machine.get('date', '')}. Loopback only. Every server and every "
             "feedsim process is its own process, and they **share the same cores**, so every number includes "
             "the load generator competing with the server.", "",
             "Method: `feedsim swarm` opens the connections (in several processes past 8,000), subscribes, waits "
             "out a warm-up, then measures. Latency is receive time minus the update's `ts`, the time the tick was "
             "due by the server's schedule (every server stamps it so), so a server or a generator that falls behind "
             "shows it as latency (no coordinated omission); histograms from all "
             "swarm processes are merged exactly. Server CPU and write syscalls are read from `/proc` four times "
             "a second and interpolated to the window every swarm process was measuring in.", ""]
    lines += comparison_tables(runs)
    lines += scenario_tables(runs)
    lines += plots(runs, plot_dir)
    failed = [r for r in runs if "error" in r]
    if failed:
        lines += ["## Failed runs", ""] + [f"- {r.get('scenario')} {r.get('label')} on {r['server']}: "
                                           f"`{r['error'][:300]}`" for r in failed] + [""]
    results_md.write_text("\n".join(lines))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--results-md", type=Path)
    args = parser.parse_args()
    generate(args.folder, args.results_md or args.folder / "RESULTS.md")


if __name__ == "__main__":
    sys.exit(main())
