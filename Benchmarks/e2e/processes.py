"""The processes a measured run watches: the server it starts, and any process it samples.

`ServerProcess` starts a server (servers.py), waits until it answers, samples its CPU, RSS and write
syscalls from /proc four times a second (`Sampler`), and stops it; `Sampler.at` interpolates a
counter to any moment, so a window can start and end between samples.
"""
import bisect
import os
import re
import resource
import subprocess
import threading
import time
import urllib.error
from dataclasses import dataclass
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024


def raise_open_file_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


@dataclass
class Sample:
    at: float          # wall clock, seconds since the epoch
    cpu: float         # user + system CPU seconds
    rss_kib: int
    writes: int        # write syscalls (write/writev; not send/sendto, see report notes)


def read_sample(pid: int) -> Sample | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        statm = Path(f"/proc/{pid}/statm").read_text().split()
        io = Path(f"/proc/{pid}/io").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    writes = re.search(r"syscw:\s+(\d+)", io)
    return Sample(time.time(), (int(fields[11]) + int(fields[12])) / CLOCK_TICKS, int(statm[1]) * PAGE_KIB,
                  int(writes.group(1)) if writes else 0)


def peak_rss_kib(pid: int) -> int:
    match = re.search(r"VmHWM:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    return int(match.group(1)) if match else 0


class Sampler(threading.Thread):
    def __init__(self, pid: int, interval: float = 0.25):
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.samples: list[Sample] = []
        self.stopping = threading.Event()

    def run(self):
        while not self.stopping.is_set():
            sample = read_sample(self.pid)
            if sample:
                self.samples.append(sample)
            self.stopping.wait(self.interval)

    def stop(self):
        self.stopping.set()
        self.join()

    def at(self, moment: float, key: str) -> float:
        """The counter `key` at `moment`, linearly interpolated between the samples around it."""
        times = [s.at for s in self.samples]
        i = bisect.bisect_left(times, moment)
        if i == 0:
            return getattr(self.samples[0], key)
        if i >= len(times):
            return getattr(self.samples[-1], key)
        before, after = self.samples[i - 1], self.samples[i]
        share = (moment - before.at) / (after.at - before.at) if after.at > before.at else 0
        return getattr(before, key) + share * (getattr(after, key) - getattr(before, key))

    def during(self, start: float, end: float) -> list[Sample]:
        return [s for s in self.samples if start <= s.at <= end]


class ServerProcess:
    def __init__(self, server, port: int, rate: float, bin_dir: Path, log_dir: Path):
        self.server, self.port = server, port
        self.log_path = log_dir / f"{server.name}-{port}.log"
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen(server.command(port, rate, bin_dir), stdout=self.log, stderr=subprocess.STDOUT,
                                        env=server.environment(), preexec_fn=raise_open_file_limit)
        self.wait_until_ready()
        self.sampler = Sampler(self.process.pid)
        self.sampler.start()

    def wait_until_ready(self, timeout: float = 60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.server.name} exited early:\n{self.log_path.read_text()[-3000:]}")
            try:
                self.server.stats(self.port)
                return
            except (urllib.error.URLError, ConnectionError, OSError, ValueError):
                time.sleep(0.2)
        raise RuntimeError(f"{self.server.name} did not answer on port {self.port}")

    def stop(self) -> int:
        peak = peak_rss_kib(self.process.pid) if self.process.poll() is None else 0
        self.sampler.stop()
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()
        return peak


def safe_stats(server, port):
    try:
        return server.stats(port)
    except Exception as error:  # noqa: BLE001 - a peer that is too busy to answer is a result, not a crash
        return {"error": str(error)}
