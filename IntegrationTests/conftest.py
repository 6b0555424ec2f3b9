"""Fixtures that run the real `tickerhub` and `feedsim` binaries as subprocesses."""
import json
import os
import re
import resource
import signal
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN_DIR = Path(os.environ.get("TICKERHUB_BIN_DIR", ROOT / ".build" / "debug"))


class Hub:
    """A tickerhub process on a free port; its log goes to a file we can read."""

    def __init__(self, *args: str, port: int = 0, open_files: tuple[int, int] | None = None):
        """`open_files`: the (soft, hard) RLIMIT_NOFILE the hub starts with."""
        self.log = tempfile.NamedTemporaryFile(prefix="tickerhub-", suffix=".log", delete=False)
        limit = (lambda: resource.setrlimit(resource.RLIMIT_NOFILE, open_files)) if open_files else None
        self.process = subprocess.Popen(
            [str(BIN_DIR / "tickerhub"), "--port", str(port), "--event-loops", "2", *args],
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
