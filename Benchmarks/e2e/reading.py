"""How the report reads run files: loading a results folder, the order servers are shown in, and
the size of a comparison (subscribers and tick rate). Shared by the tables (report.py) and the
plots (plots.py).
"""
import json
from pathlib import Path

SERVER_ORDER = ["tickerhub", "tickerhub-baseline", "floor", "node-ws", "go-gorilla", "python-websockets", "hummingbird"]
COLORS = {"tickerhub": "#2a9d8f", "floor": "#6c757d", "tickerhub-baseline": "#8ab17d", "node-ws": "#e76f51", "go-gorilla": "#8338ec", "python-websockets": "#457b9d",
          "hummingbird": "#b5838d"}


def load(folder: Path) -> tuple[dict, list[dict]]:
    machine = json.loads((folder / "machine.json").read_text()) if (folder / "machine.json").exists() else {}
    runs = [json.loads(path.read_text()) for path in sorted(folder.glob("[0-9][0-9]-*.json"))]
    return machine, runs


def order(runs):
    return sorted(runs, key=lambda r: SERVER_ORDER.index(r["server"]) if r["server"] in SERVER_ORDER else 99)


def size(run: dict) -> tuple[int, float]:
    """A comparison's size: subscribers, and the tick rate they ran at."""
    return run["swarm"]["clients"], run.get("rate", 100)


def size_title(clients: int, rate: float) -> str:
    demand = clients * 10 / 500 * rate
    return f"{clients:,} subscribers × 10 symbols, {rate:,g} ticks/s ({demand:,.0f} deliveries/s asked)"
