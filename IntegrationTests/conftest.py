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
