"""Fixtures that run the real `tickerhub` and `feedsim` binaries as subprocesses."""
import json
import os
import re
import resource
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN_DIR = Path(os.environ.get("TICKERHUB_BIN_DIR", ROOT / ".build" / "debug"))
# HUB_TEST_TRANSPORT=nio (or owned) runs every hub that can on that transport: the same tests
# against the other path from a ready frame to the socket. Without it hubs take their default
# (`--transport auto`: owned, or NIO with TLS or NATS).
TEST_TRANSPORT = os.environ.get("HUB_TEST_TRANSPORT")
_NIO_ONLY_FLAGS = {"--tls-cert", "--publish-nats", "--transport", "--config"}


def transport_args(args) -> list[str]:
    if not TEST_TRANSPORT or any(arg in _NIO_ONLY_FLAGS for arg in args):
        return []
    if any(str(arg).startswith("nats://") for arg in args):
        return []
    return ["--transport", TEST_TRANSPORT]


class Hub:
    """A tickerhub process on a free port; its log goes to a file we can read."""

    def __init__(self, *args: str, port: int = 0, open_files: tuple[int, int] | None = None):
        """`open_files`: the (soft, hard) RLIMIT_NOFILE the hub starts with."""
        self.log = tempfile.NamedTemporaryFile(prefix="tickerhub-", suffix=".log", delete=False)
        limit = (lambda: resource.setrlimit(resource.RLIMIT_NOFILE, open_files)) if open_files else None
        self.process = subprocess.Popen(
            [str(BIN_DIR / "tickerhub"), "--port", str(port), "--event-loops", "2", *transport_args(args), *args],
            stdout=self.log, stderr=subprocess.STDOUT, preexec_fn=limit,
        )
        deadline = time.time() + 30
        while time.time() < deadline:
            match = re.search(r"address=(?:127\.0\.0\.1|0\.0\.0\.0):(\d+)", Path(self.log.name).read_text())
            if match:
                self.port = int(match.group(1))
                break
            if self.process.poll() is not None:
                raise RuntimeError("tickerhub exited early:\n" + Path(self.log.name).read_text())
            time.sleep(0.05)
        else:
            raise RuntimeError("tickerhub did not start:\n" + Path(self.log.name).read_text())
        self.ws_url = f"ws://127.0.0.1:{self.port}/ws"
        self.http = f"http://127.0.0.1:{self.port}"

    def get(self, path: str):
        try:
            with urllib.request.urlopen(self.http + path, timeout=5) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def get_json(self, path: str):
        status, body = self.get(path)
        assert status == 200, body
        return json.loads(body)

    def log_text(self) -> str:
        return Path(self.log.name).read_text()

    def stop(self, sig=signal.SIGTERM, timeout=15) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


@pytest.fixture
def start_hub():
    hubs = []

    def start(*args: str, port: int = 0, open_files: tuple[int, int] | None = None) -> Hub:
        hub = Hub(*args, port=port, open_files=open_files)
        hubs.append(hub)
        return hub

    yield start
    for hub in hubs:
        hub.stop()


@pytest.fixture(scope="module")
def hub():
    """A simulated-feed hub shared by the protocol tests of one module."""
    hub = Hub("--symbols", "100", "--rate", "2000")
    yield hub
    hub.stop()


def feedsim(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN_DIR / "feedsim"), *args], capture_output=True, text=True, timeout=timeout)


class CheckedThread(threading.Thread):
    """A thread whose exception (a failed assert, say) is raised again by `join()` in the test, where
    pytest sees it; a plain thread's failure only ends the thread."""

    def __init__(self, target, *args, **kwargs):
        super().__init__(target=self._run_checked, args=args, kwargs=kwargs, daemon=True)
        self._work = target
        self.error = None

    def _run_checked(self, *args, **kwargs):
        try:
            self._work(*args, **kwargs)
        except BaseException as error:  # noqa: BLE001 - handed to join()
            self.error = error

    def join(self, timeout=None):
        super().join(timeout)
        if self.is_alive():
            raise AssertionError(f"{self._work.__name__} still running after {timeout} s")
        if self.error is not None:
            raise self.error


# In CI a skipped test is a test that did not run: a missing tool (Chromium, selenium,
# systemd-analyze) must fail the run, not pass it quietly. .ci/run sets CI.
_skipped = []


def pytest_runtest_logreport(report):
    if report.skipped:
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session, exitstatus):
    if os.environ.get("CI") and _skipped and exitstatus == 0:
        print(f"\nCI: {len(_skipped)} test(s) skipped, which CI does not expect: " + ", ".join(_skipped))
        session.exitstatus = 1


def require_in_ci(module: str):
    """Imports `module`; where it is missing, skips outside CI and fails in CI."""
    try:
        return __import__(module)
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail(f"{module} must be installed in CI (scripts/bootstrap.sh test)", pytrace=False)
        pytest.skip(f"{module} is not installed", allow_module_level=True)


def read_until_stats(ws, tracker) -> dict:
    """Asks for this connection's counters, applying everything that arrives before the answer (to
    `tracker`, anything with `apply(message)`: a seq tracker, a book mirror), until
    the hub owes it nothing (`stale` is 0). A request the hub read before the backlog filled is
    answered ahead of the latest values it sends once the backlog drains, hence the loop."""
    for attempt in range(20):
        ws.send_json({"op": "stats", "id": attempt})
        while True:
            m = ws.recv_json()
            assert m is not None, f"closed with {ws.close_code}"
            if m["type"] == "stats":
                break
            tracker.apply(m)
        if m["counters"]["stale"] == 0 and attempt > 0:
            return m["counters"]
    raise AssertionError(f"still owed latest values: {m}")


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now, for a process that must be started on a known port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def connect(url: str, **options):
    """A subscriber's WebSocket to `url` (no compression unless `options` ask for it), read past its
    `welcome`: returns `(ws, welcome)`."""
    import websockets
    options.setdefault("compression", None)
    ws = await websockets.connect(url, **options)
    welcome = json.loads(await ws.recv())
    assert welcome["type"] == "welcome", welcome
    return ws, welcome


class SeqChain:
    """Each stream's seq, held to the protocol's promise: an update's seq is the previous + 1 on its
    stream (no gap, no reorder). A snapshot starts a stream (or re-bases it); keys are the
    symbol, or whatever names the stream."""

    def __init__(self, start: dict | None = None):
        self.last = dict(start or {})

    def start(self, key, seq: int):
        self.last[key] = seq

    def follow(self, key, seq: int, what: str = "update"):
        assert key in self.last, f"{key}: {what} seq {seq} before its snapshot"
        assert seq == self.last[key] + 1, f"{key}: {what} seq {seq} after {self.last[key]}: a gap or a reorder"
        self.last[key] = seq

    def see(self, message: dict) -> bool:
        """Takes a snapshot or a quote/trade by its symbol; True for an update."""
        if message["type"] == "snapshot":
            self.start(message["symbol"], message["seq"])
        elif message["type"] in ("quote", "trade"):
            self.follow(message["symbol"], message["seq"], message["type"])
            return True
        return False


def handshake_status(url: str, **options) -> tuple[int, object]:
    """The status of a subscriber's WebSocket handshake to `url` with the Python `websockets`
    client (`options`: `origin`, `additional_headers`, `ssl`...): 101, read past its `welcome`, or
    the refusal's status, with the refusal's response (None for 101)."""
    import asyncio
    import websockets

    async def run():
        try:
            async with websockets.connect(url, compression=None, **options) as ws:
                assert json.loads(await ws.recv())["type"] == "welcome"
                return 101, None
        except websockets.InvalidStatus as refused:
            return refused.response.status_code, refused.response
    return asyncio.run(run())


def raw_handshake_status(port: int, path: str, headers: str = "") -> int:
    """The status of a WebSocket handshake written by hand (`headers`: more lines, each ending in
    CRLF), for what a library client would not send."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall((f"GET {path} HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      f"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{headers}\r\n").encode())
        head = sock.recv(4096)
        return int(head.split(b" ")[1])
