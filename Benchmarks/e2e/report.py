#!/usr/bin/env python3
"""Turns a folder of run files (from run.py) into RESULTS.md tables and PNG plots.

    .venv/bin/python Benchmarks/e2e/report.py Benchmarks/e2e/results/<run> [--results-md PATH]

Ratios compare servers measured in the same harness run, on the same machine, back to back.
Plots need matplotlib (make bench-e2e installs it); without it the tables are still written.
"""
import argparse
import math
import sys
from pathlib import Path

from plots import plots
from reading import SERVER_ORDER, load, order, size, size_title

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


def admitted(run: dict) -> str:
    """How many clients the server accepted, upgraded and subscribed, and kept to the end."""
    clients = run["swarm"]["clients"]
    kept = run.get("subscribedOpenAtEnd", run.get("openAtEnd", 0))
    return f"**{kept:,}** of {clients:,}" if kept < clients else f"all {clients:,}"


def matrix_tables(runs: list[dict]) -> list[str]:
    by_size: dict[tuple[int, float], list[dict]] = {}
    for run in runs:
        if run.get("scenario") == "matrix":
            by_size.setdefault(size(run), []).append(run)
    if not by_size:
        return []
    lines = ["## TickerHub and its peers: the same load, the same machine, one run", "",
             "Load: `wsload` (Benchmarks/loadgen), one thread on epoll, the same for every server. Each client "
             "subscribes to 10 of the server's 500 symbols, spread evenly, so every tick goes to the same number of "
             "clients whatever the server's activity skew. *Admitted* counts clients accepted, upgraded, subscribed "
             "(ack received) and still open at the end. *Deliveries / CPU-s* is what the clients received per "
             "CPU-second the server used (user + system, read from `/proc` over the measured window). *Per read* "
             "is messages per client `recv()`: how many messages the server packed into a write, roughly. "
             "*÷ floor* is deliveries / CPU-s as a ratio to the floor's in the same run (`peers/floor-hub`: C, epoll, "
             "one `send` of a ready frame per delivery and nothing else): above 1 only by putting several messages "
             "into one write.", ""]
    header = ("| server | admitted | delivered msg/s | p50 ms | p99 ms | p99.9 ms | gaps | server cores | "
              "deliveries / CPU-s | ÷ floor | per read | RSS / connection |")
    for key in sorted(by_size, key=lambda k: (k[0], k[1])):
        lines += [f"### {size_title(*key)}", "", header, "|" + "---|" * 12]
        floor = next((r for r in by_size[key] if r["server"] == "floor" and "error" not in r), None)
        for run in order(by_size[key]):
            if "error" in run:
                lines.append(f"| {run['server']} | failed: {run['error'][:160]} |" + " |" * 10)
                continue
            latency = run["latencyMs"]
            to_floor = f"{run['deliveriesPerCpuSecond'] / floor['deliveriesPerCpuSecond']:.2f}" if floor else "n/a"
            lines.append(f"| {run['server']} | {admitted(run)} | {number(run['messagesPerSecond'])} | {ms(latency['p50'])} | "
                         f"{ms(latency['p99'])} | {ms(latency['p999'])} | {number(run['gapMessages'])} | {run['serverCpuCores']} | "
                         f"{number(run['deliveriesPerCpuSecond'])} | {to_floor} | {number(run.get('messagesPerRead'), 2)} | "
                         f"{run['rssPerConnectionKiB']} KiB |")
        lines.append("")
    lines += ["### TickerHub against each peer (ratios from the same run)", "",
              "Above 1× means TickerHub is better: more deliveries per CPU-second, lower p99, less memory per connection. "
              "A peer that did not admit every client served a lighter load; its row says so.", "",
              "| load | peer | deliveries / CPU-s | p99 latency | RSS / connection |", "|---|---|---|---|---|"]
    for key in sorted(by_size, key=lambda k: (k[0], k[1])):
        ours = next((r for r in by_size[key] if r["server"] == "tickerhub" and "error" not in r), None)
        if not ours:
            continue
        for peer in order(r for r in by_size[key] if r["server"] != "tickerhub"):
            label = f"{key[0]:,} × 10 @ {key[1]:,g} t/s"
            if "error" in peer:
                lines.append(f"| {label} | {peer['server']} | failed | failed | failed |")
                continue
            served = "" if peer.get("subscribedOpenAtEnd", 0) >= key[0] else f" (admitted {admitted(peer)})"
            lines.append(f"| {label} | {peer['server']}{served} | {ratio(ours['deliveriesPerCpuSecond'], peer['deliveriesPerCpuSecond'])} "
                         f"({number(ours['deliveriesPerCpuSecond'])} vs {number(peer['deliveriesPerCpuSecond'])}) | "
                         f"{ratio(ours['latencyMs']['p99'], peer['latencyMs']['p99'], higher_is_better=False)} "
                         f"({ms(ours['latencyMs']['p99'])} vs {ms(peer['latencyMs']['p99'])} ms) | "
                         f"{ratio(ours['rssPerConnectionKiB'], peer['rssPerConnectionKiB'], higher_is_better=False)} "
                         f"({ours['rssPerConnectionKiB']} vs {peer['rssPerConnectionKiB']} KiB) |")
    lines.append("")
    return lines


def probe_tables(runs: list[dict]) -> list[str]:
    probed = [r for r in runs if r.get("scenario") == "matrix" and r.get("probes")]
    if not probed:
        return []
    lines = ["## Admission under load: one new connection at a time", "",
             "While the load above runs, a separate `wsload probe` process opens one connection at a time and times "
             "it from `connect()` to the response's status line: `101` for `/ws`, `200` for HTTP. Every probe of a "
             "path is spread over the measured window.", "",
             "| load | server | path | probes | failed | p50 ms | p99 ms | max ms |", "|---|---|---|---|---|---|---|---|"]
    for run in sorted(probed, key=lambda r: (size(r), SERVER_ORDER.index(r["server"]) if r["server"] in SERVER_ORDER else 99)):
        for path, probe in run["probes"].items():
            label = f"{run['swarm']['clients']:,} × 10 @ {run['rate']:,g} t/s"
            if "error" in probe:
                lines.append(f"| {label} | {run['server']} | `{path}` | failed | | | | |")
                continue
            timing = probe["ms"]
            lines.append(f"| {label} | {run['server']} | `{path}` | {probe['probes']} | {probe['failed']} | {ms(timing['p50'])} | "
                         f"{ms(timing['p99'])} | {ms(timing['max'])} |")
    lines.append("")
    return lines


def book_tables(runs: list[dict], folder: Path) -> list[str]:
    """Order books beside quotes (the `books` scenario), and the microbenchmarks of books and bars
    (`microbenchmarks-books.md`, package-benchmark's markdown, when the folder has it)."""
    chosen = [r for r in runs if r.get("scenario") == "books"]
    micro = folder / "microbenchmarks-books.md"
    if not chosen and not micro.exists():
        return []
    lines = ["## Order books beside quotes (TickerHub, 1,000 wsload clients × 10 symbols)", ""]
    if chosen:
        commits = sorted({r.get("commit", "?") for r in chosen})
        lines += [f"The same 1,000 clients follow their 10 symbols' quotes and trades (the default channel, as in the "
                  f"matrix) or their order books at depth 10 (`book` channel: a `bookUpdate` per change of the top 10 "
                  f"levels, each with its checksum), at the matrix's first two rates, one after the other in one run "
                  f"(commit {', '.join(commits)}). Each simulated quote or trade is one change of its symbol's book (the "
                  f"levels it moves, and some behind them); a change that moves none of the top 10 levels sends a "
                  f"depth-10 subscriber nothing, so book subscribers get somewhat fewer messages than quote "
                  f"subscribers, each about twice as large.", "",
                  "| run | delivered msg/s | p50 ms | p99 ms | p99.9 ms | gaps | conflated | server cores | deliveries / CPU-s | "
                  "bytes / delivery | RSS / connection |", "|" + "---|" * 11]
        by_label = {}
        for run in chosen:
            by_label[run["label"]] = run
            if "error" in run:
                lines.append(f"| {run['label']} | failed: {run['error'][:120]} |" + " |" * 9)
                continue
            latency = run["latencyMs"]
            lines.append(f"| {run['label']} | {number(run['messagesPerSecond'])} | {ms(latency['p50'])} | {ms(latency['p99'])} | "
                         f"{ms(latency['p999'])} | {number(run['gapMessages'])} | {number(run['conflated'])} | {run['serverCpuCores']} | "
                         f"{number(run['deliveriesPerCpuSecond'])} | {run.get('bytesPerDelivery', '–')} | {run['rssPerConnectionKiB']} KiB |")
        ratios = []
        for label, run in by_label.items():
            quotes = by_label.get(label.replace("book depth 10", "quotes and trades"))
            if label.startswith("book") and quotes and "error" not in run and "error" not in quotes \
                    and run.get("deliveriesPerCpuSecond") and quotes.get("deliveriesPerCpuSecond"):
                ratios.append(f"{label.split(', ')[1]}: {run['deliveriesPerCpuSecond'] / quotes['deliveriesPerCpuSecond']:.2f}×")
        if ratios:
            lines += ["", "Book deliveries per CPU-second as a ratio to quote deliveries, same run: " + "; ".join(ratios) + "."]
        lines.append("")
    if micro.exists():
        lines += ["### Microbenchmarks: a book change through the engine, and what books and bars hold", "",
                  "package-benchmark (`Benchmarks/Benchmarks/FanoutBenchmarks/BookBenchmarks.swift`), one thread, "
                  "`EmbeddedEventLoop`, counting sinks (no syscalls): the publisher's side of one simulated book change "
                  "(number it, apply it to the whole book, encode each depth's message with its checksum once, cache, "
                  "ring); the same change fanned out at depth 10 to 1,000 subscribers, beside one quote fanned out to "
                  "1,000; and the heap that 1,000 symbols' books (the publisher's whole book, ~40 levels a side, and "
                  "the cached snapshot at each depth) and bars (300 closed and the open one at each of 4 intervals) "
                  "add, per symbol. Times are per change (per iteration).", ""]
        lines += [line.replace("### ", "#### ") for line in micro.read_text().splitlines()
                  if not line.startswith("## ")]
        lines.append("")
    return lines


def generator_table(runs: list[dict]) -> list[str]:
    chosen = [r for r in runs if r.get("scenario") == "generators" and "error" not in r]
    if not chosen:
        return []
    lines = ["## What the load generators cost (TickerHub, 1,000 × 10, 5,000 ticks/s, evenly spread)", "",
             "The same load driven by the neutral generator and by `feedsim swarm`, the tool users run: messages the "
             "generator took in per CPU-second it used. feedsim should cost at most twice what wsload does, so that a "
             "user's load test measures the hub, not feedsim.", "",
             "| generator | delivered msg/s | generator cores | messages / generator CPU-s | hub deliveries / CPU-s | p99 ms |",
             "|---|---|---|---|---|---|"]
    for run in chosen:
        lines.append(f"| {run['label']} | {number(run['messagesPerSecond'])} | {run.get('loadCpuCores')} | "
                     f"{number(run.get('loadMessagesPerCpuSecond'))} | {number(run['deliveriesPerCpuSecond'])} | {ms(run['latencyMs']['p99'])} |")
    by_label = {r["label"]: r for r in chosen}
    if "wsload" in by_label and "feedsim swarm" in by_label:
        ours, neutral = by_label["feedsim swarm"].get("loadMessagesPerCpuSecond"), by_label["wsload"].get("loadMessagesPerCpuSecond")
        if ours and neutral:
            lines += ["", f"feedsim takes in {ours / neutral:.2f}× the messages per CPU-second that wsload does."]
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


def generate(folder: Path, results_md: Path) -> None:
    # Links are relative to RESULTS.md's folder, whatever folder the run was started from.
    folder, results_md = folder.resolve(), results_md.resolve()
    machine, runs = load(folder)
    # Plots live with the run they show, so an older RESULTS.md never points at a newer run's plots.
    plot_dir = folder / "plots"
    relative_plot_dir = str(plot_dir.relative_to(results_md.parent)) if plot_dir.is_relative_to(results_md.parent) else str(plot_dir)
    lines = ["# Results", "",
             "*Generated by `Benchmarks/e2e/report.py` from the run files in "
             f"`{folder.relative_to(results_md.parent) if folder.is_relative_to(results_md.parent) else folder}`; "
             "do not edit by hand. Analysis and earlier investigations: [ANALYSIS.md](ANALYSIS.md).*", "",
             f"Machine: {machine.get('cores', '?')} cores, {machine.get('memoryGiB', '?')} GiB, Linux {machine.get('kernel', '')}, "
             f"{machine.get('swift', '')}, Node {machine.get('node', '')}, Python {machine.get('python', '')}, "
             f"{machine.get('go', '')}; commit {machine.get('commit', '?')}, {machine.get('date', '')}. Loopback only. "
             "Every server and every load process is its own process, and they **share the same two cores**, so every "
             "number includes the load generator competing with the server: trust ratios from one run over absolute "
             "figures.", "",
             "Method: the load opens the connections, subscribes, waits out a warm-up, then measures. Latency is "
             "receive time minus the update's `ts`, the time the tick was due by the server's schedule (every server "
             "stamps it so), so a server that falls behind shows it as latency (no coordinated omission).", ""]
    lines += matrix_tables(runs)
    lines += probe_tables(runs)
    lines += book_tables(runs, folder)
    lines += generator_table(runs)
    lines += scenario_tables(runs)
    lines += plots(runs, plot_dir, relative_plot_dir)
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
