"""A NATS cluster on loopback for the cluster tests: real `nats-server` processes joined by routes,
and the `feedsim publish --nats` publisher that feeds it."""
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from conftest import BIN_DIR, free_port

NATS_SERVER = "/usr/sbin/nats-server"



def wait_for_port(port: int, timeout: float = 10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


class NATSCluster:
    """`size` nats-servers, each routed to every other, on free loopback ports."""

    def __init__(self, size: int = 3, token: str | None = None):
        """`token`: the servers require it from clients (`--auth`)."""
        self.token = token
        self.client_ports = [free_port() for _ in range(size)]
        self.cluster_ports = [free_port() for _ in range(size)]
        self.processes: list[subprocess.Popen | None] = [None] * size
        self.logs = [tempfile.NamedTemporaryFile(prefix="nats-", suffix=".log", delete=False) for _ in range(size)]
        for index in range(size):
            self.start(index)
        for port in self.client_ports:
            wait_for_port(port)
        self.wait_for_routes()

    def wait_for_routes(self, timeout: float = 20):
        """Until every member has logged a route to every other (nats-server's own word for it), so
        a subscription made on one reaches publishers on the others."""
        deadline = time.time() + timeout
        others = len(self.client_ports) - 1
        while time.time() < deadline:
            if all(Path(log.name).read_text(errors="replace").count("Route connection created") >= others
                   for log in self.logs):
                return
            time.sleep(0.05)
        raise RuntimeError("the NATS routes did not form:\n" + "\n".join(Path(log.name).read_text()[-1000:] for log in self.logs))

    def start(self, index: int):
        routes = ",".join(f"nats://127.0.0.1:{port}" for i, port in enumerate(self.cluster_ports) if i != index)
        self.processes[index] = subprocess.Popen(
            [NATS_SERVER, "-a", "127.0.0.1", "-p", str(self.client_ports[index]),
             *(["--auth", self.token] if self.token else []),
             "--cluster_name", "tickerhub-it", "--cluster", f"nats://127.0.0.1:{self.cluster_ports[index]}", "--routes", routes],
            stdout=self.logs[index], stderr=subprocess.STDOUT)

    def url(self, index: int) -> str:
        return f"nats://127.0.0.1:{self.client_ports[index]}"

    def urls(self, first: int = 0) -> str:
        """Every member, `first` first: the one a client connects to, the others its failover."""
        order = [first] + [i for i in range(len(self.client_ports)) if i != first]
        return ",".join(self.url(i) for i in order)

    def kill(self, index: int):
        process = self.processes[index]
        if process and process.poll() is None:
            process.kill()
            process.wait()

    def stop(self):
        for index in range(len(self.processes)):
            self.kill(index)


class NATSPublisher:
    """`feedsim publish --nats`: the simulated market, numbered under an epoch of its own."""

    def __init__(self, nats_urls: str, *args: str, rate: int = 2000, symbols: int = 50):
        self.log = tempfile.NamedTemporaryFile(prefix="feedsim-nats-", suffix=".log", delete=False)
        self.process = subprocess.Popen(
            [str(BIN_DIR / "feedsim"), "publish", "--nats", nats_urls, "--rate", str(rate), "--symbols", str(symbols), *args],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 15
        while "publishing to NATS" not in self.log_text():
            if self.process.poll() is not None or time.time() > deadline:
                raise RuntimeError("feedsim publish --nats did not start:\n" + self.log_text())
            time.sleep(0.05)
        self.epoch = self.log_text().split("epoch ")[1].split()[0]

    def log_text(self) -> str:
        return Path(self.log.name).read_text()

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
