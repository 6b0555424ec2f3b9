"""The servers the end-to-end harness can run: TickerHub and its peers, each in its own process.

Every server offers the same market: the ticks of tickerhub's simulator with one seed (500
symbols, Zipf(0.8) activity), RATE of them per second, generated in-process. TickerHub runs its
simulator with that seed; every peer replays the same ticks from a script written once per harness
run (`write_market`, `feedsim ticks`), so the offered load is identical across servers down to the
bytes of each update. Every server speaks the subset of tickerhub.v1 that the load generators drive
(`wsload`, `feedsim swarm`): welcome, list, subscribe with ack + snapshot, updates with per-symbol
seq and ts in ns. So the same load measures all of them unchanged.
"""
import json
import os
import shutil
import subprocess
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PEERS = ROOT / "Benchmarks" / "peers"
HUMMINGBIRD = PEERS / "hummingbird-hub"
# The market every server offers: tickerhub's simulator with this universe size and seed.
MARKET_SYMBOLS = 500
MARKET_SEED = 42
# Ticks in the peers' script, replayed from the start when they run out (~4.5 MB of text).
MARKET_SCRIPT_TICKS = 65_536


def write_market(bin_dir: Path, path: Path) -> Path:
    """Writes the tick script the peers replay: the same ticks tickerhub's simulator makes."""
    subprocess.run([str(bin_dir / "feedsim"), "ticks", "--symbols", str(MARKET_SYMBOLS), "--seed", str(MARKET_SEED),
                    "--count", str(MARKET_SCRIPT_TICKS), "--out", str(path)], check=True)
    return path


@dataclass
class Server:
    name: str
    description: str
    stats_path: str  # GET path answering JSON with at least "deliveries"
    extra_args: list = field(default_factory=list)
    # /proc/PID/io counts write(2) and writev(2) but not send(2): Python's asyncio uses send.
    write_syscalls_visible: bool = True
    # The tick script a peer replays (`write_market`); set by the harness before the first run.
    market: Path | None = None

    def market_args(self) -> list:
        if self.market is None:
            raise RuntimeError(f"{self.name}: no tick script; call write_market first")
        return ["--ticks", str(self.market)]

    def command(self, port: int, rate: float, bin_dir: Path) -> list:
        raise NotImplementedError

    def environment(self) -> dict:
        return dict(os.environ)

    def available(self, bin_dir: Path) -> str | None:
        """None when it can run here, else why not."""
        return None

    def prepare(self, bin_dir: Path) -> None:
        """Builds what the server needs, once per harness run."""

    def stats(self, port: int) -> dict:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{self.stats_path}", timeout=30) as response:
            return json.load(response)


class TickerHub(Server):
    def __init__(self, extra_args=None, name="tickerhub", own_bin_dir=None):
        """`own_bin_dir`: run the tickerhub found there instead (an earlier build, for a before/after
        comparison in the same run)."""
        description = f"TickerHub built in {own_bin_dir}" if own_bin_dir else "TickerHub (this repo), release build"
        super().__init__(name, description, "/stats", extra_args or [])
        self.own_bin_dir = own_bin_dir

    def command(self, port, rate, bin_dir):
        return [str((self.own_bin_dir or bin_dir) / "tickerhub"), "--port", str(port), "--rate", str(rate),
                "--symbols", str(MARKET_SYMBOLS), "--seed", str(MARKET_SEED), "--log-level", "warning", *self.extra_args]

    def available(self, bin_dir):
        binary = (self.own_bin_dir or bin_dir) / "tickerhub"
        return None if binary.exists() else f"no {binary} (swift build -c release)"


class NodeWS(Server):
    def __init__(self):
        super().__init__("node-ws", "Node.js `ws` (apt node-ws), Benchmarks/peers/node-ws-hub.js", "/")

    def command(self, port, rate, bin_dir):
        return ["node", str(PEERS / "node-ws-hub.js"), "--port", str(port), "--rate", str(rate), *self.market_args()]

    def environment(self):
        return dict(os.environ, NODE_PATH="/usr/share/nodejs")

    def available(self, bin_dir):
        if not shutil.which("node"):
            return "node is not installed (apt install nodejs node-ws)"
        if not Path("/usr/share/nodejs/ws").exists():
            return "the ws module is not installed (apt install node-ws)"
        return None


class PythonWebsockets(Server):
    def __init__(self, python: str):
        super().__init__("python-websockets", "Python `websockets` broadcast(), Benchmarks/peers/python_websockets_hub.py", "/",
                         write_syscalls_visible=False)
        self.python = python

    def command(self, port, rate, bin_dir):
        return [self.python, str(PEERS / "python_websockets_hub.py"), "--port", str(port), "--rate", str(rate), *self.market_args()]

    def available(self, bin_dir):
        if not shutil.which(self.python):
            return f"no {self.python} (make test or make bench-e2e creates .venv)"
        probe = subprocess.run([self.python, "-c", "import websockets.asyncio.server"], capture_output=True)
        return None if probe.returncode == 0 else f"{self.python} has no websockets >= 13 (make test creates .venv)"


class Hummingbird(Server):
    def __init__(self):
        super().__init__("hummingbird", "Hummingbird 2 + hummingbird-websocket, Benchmarks/peers/hummingbird-hub", "/")

    @staticmethod
    def configuration(bin_dir: Path) -> str:
        """Built like TickerHub: release for real runs, debug when the harness runs debug binaries (CI smoke)."""
        return "debug" if bin_dir.name == "debug" else "release"

    def binary(self, bin_dir: Path) -> Path:
        return HUMMINGBIRD / ".build" / self.configuration(bin_dir) / "HummingbirdHub"

    def command(self, port, rate, bin_dir):
        return [str(self.binary(bin_dir)), "--port", str(port), "--rate", str(rate), *self.market_args()]

    def prepare(self, bin_dir):
        if not self.binary(bin_dir).exists():
            print(f"building the Hummingbird peer ({self.configuration(bin_dir)}; a few minutes the first time)", flush=True)
        # Run from the package folder, as a person would: SwiftPM rebuilds everything when the same
        # package is built once from inside and once with --package-path.
        build = subprocess.run(["swift", "build", "-c", self.configuration(bin_dir)], cwd=HUMMINGBIRD,
                               capture_output=True, text=True)
        if build.returncode != 0:
            raise RuntimeError("building the Hummingbird peer failed:\n" + (build.stdout + build.stderr)[-3000:])


class GoGorilla(Server):
    """gorilla/websocket, built offline from Debian's packages (golang-go, golang-github-gorilla-websocket-dev)."""
    SOURCE = PEERS / "go-gorilla-hub"
    GOPATH = Path("/usr/share/gocode")

    def __init__(self):
        super().__init__("go-gorilla", "Go gorilla/websocket, goroutine pair per connection, Benchmarks/peers/go-gorilla-hub", "/")

    @staticmethod
    def binary() -> Path:
        return ROOT / ".build" / "go-gorilla-hub"

    def command(self, port, rate, bin_dir):
        return [str(self.binary()), "--port", str(port), "--rate", str(rate), *self.market_args()]

    def available(self, bin_dir):
        if not shutil.which("go"):
            return "go is not installed (apt install golang-go golang-github-gorilla-websocket-dev)"
        if not (self.GOPATH / "src/github.com/gorilla/websocket").exists():
            return "gorilla/websocket is not installed (apt install golang-github-gorilla-websocket-dev)"
        return None

    def prepare(self, bin_dir):
        # GOPATH mode against Debian's source package: no module download, so it builds offline.
        env = dict(os.environ, GOPATH=str(self.GOPATH), GO111MODULE="off", GOFLAGS="", GOCACHE=str(ROOT / ".build" / "go-cache"))
        build = subprocess.run(["go", "build", "-o", str(self.binary()), "."], cwd=self.SOURCE, env=env,
                               capture_output=True, text=True)
        if build.returncode != 0:
            raise RuntimeError("building the Go gorilla peer failed:\n" + (build.stdout + build.stderr)[-3000:])


class Floor(Server):
    """The yardstick (issue 25): C, one thread, epoll, one send(2) of a ready frame per delivery and
    nothing else. Every other server's deliveries per CPU-second are read as a ratio to it."""
    SOURCE = PEERS / "floor-hub"

    def __init__(self):
        super().__init__("floor", "the floor: C, epoll, one send of a ready frame per delivery, Benchmarks/peers/floor-hub", "/")

    @staticmethod
    def binary() -> Path:
        return ROOT / ".build" / "floor-hub"

    def command(self, port, rate, bin_dir):
        return [str(self.binary()), "--port", str(port), "--rate", str(rate), *self.market_args()]

    def available(self, bin_dir):
        return None if shutil.which("cc") else "no C compiler (apt install gcc libc6-dev)"

    def prepare(self, bin_dir):
        build = subprocess.run(["make", "-C", str(ROOT), ".build/floor-hub"], capture_output=True, text=True)
        if build.returncode != 0:
            raise RuntimeError("building the floor failed:\n" + (build.stdout + build.stderr)[-3000:])


def all_servers(python: str) -> dict:
    # tickerhub-nio: the same hub with subscribers on NIO channels (--transport nio) instead of its
    # own epoll loops (the default), so that the two paths from a ready frame to the socket are
    # compared in the same run.
    servers = [TickerHub(), TickerHub(extra_args=["--transport", "nio"], name="tickerhub-nio"), Floor(), NodeWS(),
               GoGorilla(), PythonWebsockets(python), Hummingbird()]
    return {server.name: server for server in servers}
