"""The report's plots, one PNG each, next to the run files they show: a latency CDF per matrix load
(every server of the load on one chart), and, across loads, deliveries per CPU-second and p99.
Needs matplotlib (make bench-e2e installs it); without it the report says so and has only tables.
"""
from pathlib import Path

from reading import COLORS, SERVER_ORDER, order, size, size_title


def plots(runs: list[dict], plot_dir: Path, relative_plot_dir: str) -> list[str]:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return ["*(plots skipped: matplotlib is not installed; `make bench-e2e` installs it)*", ""]
    plot_dir.mkdir(parents=True, exist_ok=True)
    subscribers = [r for r in runs if r.get("scenario") == "matrix" and "error" not in r]
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
        axes.set_title(f"Latency CDF, {clients:,} × 10, {rate:,g} ticks/s")
        figure.tight_layout()
        figure.savefig(plot_dir / name, dpi=110)
        plt.close(figure)
        made.append((f"Latency CDF at {size_title(clients, rate)}", name))
    sizes = sorted({size(r) for r in subscribers}, key=lambda k: (k[0], k[1]))
    if len(sizes) > 1:
        # One bar group per load: each server's deliveries per CPU-second, and its p99.
        for key, ylabel, title, name, log in [
            ("deliveriesPerCpuSecond", "deliveries per server CPU-second", "CPU efficiency by load", "efficiency-by-load.png", False),
            ("p99", "p99 latency (ms, log scale)", "p99 latency by load", "p99-by-load.png", True),
        ]:
            figure, axes = plt.subplots(figsize=(8, 4.4))
            servers = [s for s in SERVER_ORDER if any(r["server"] == s for r in subscribers)]
            width = 0.8 / max(len(servers), 1)
            for n, server in enumerate(servers):
                values = []
                for load in sizes:
                    run = next((r for r in subscribers if r["server"] == server and size(r) == load), None)
                    value = (run["latencyMs"]["p99"] if key == "p99" else run.get(key)) if run else None
                    values.append(value or 0)
                axes.bar([i + n * width for i in range(len(sizes))], values, width, label=server, color=COLORS.get(server))
            axes.set_xticks([i + width * (len(servers) - 1) / 2 for i in range(len(sizes))])
            axes.set_xticklabels([f"{c:,}×10\n{r:,g} t/s" for c, r in sizes], fontsize="small")
            axes.set_ylabel(ylabel)
            if log:
                axes.set_yscale("log")
            axes.set_title(title)
            axes.grid(True, axis="y", alpha=0.3)
            axes.legend(fontsize="small")
            figure.tight_layout()
            figure.savefig(plot_dir / name, dpi=110)
            plt.close(figure)
            made.append((title, name))
    lines = ["## Plots", ""]
    for title, name in made:
        lines += [f"![{title}]({relative_plot_dir}/{name})", ""]
    return lines
