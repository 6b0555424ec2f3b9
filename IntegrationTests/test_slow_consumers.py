"""The slow-consumer contract of docs/PROTOCOL.md ("Slow clients"), against real hub processes and
real sockets: isolation, conflation to the latest value, drops that are always visible and counted,
lapped-consumer resync, and eviction with 4008."""
import asyncio
import json
import re
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest
import websockets

from conftest import BIN_DIR, CheckedThread, feedsim, read_until_stats
from rawws import RawWebSocket, text_frame


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


class SeqTracker:
    """What a careful client keeps: the state per symbol, checking that seqs only ever rise and adding
    up the gaps it is shown."""

    def __init__(self):
        self.seq = {}
        self.state = {}
        self.gaps = 0
        self.conflated = 0

    def apply(self, m: dict):
        kind = m["type"]
        if kind == "snapshot":
            self.seq[m["symbol"]] = m["seq"]
            self.state[m["symbol"]] = dict(m)
        elif kind in ("quote", "trade", "conflated"):
            previous = self.seq[m["symbol"]]
            assert m["seq"] > previous, f"seq did not rise: {previous} then {m}"
            if kind != "conflated":
                assert m["seq"] == previous + 1, f"a live update jumped without a conflated value: {previous} then {m}"
            self.gaps += m["seq"] - previous - 1
            self.seq[m["symbol"]] = m["seq"]
            state = self.state.setdefault(m["symbol"], {})
            if kind == "conflated":
                self.conflated += 1
                state.clear()
                state.update(m)
            elif kind == "quote":
                state.update({k: m[k] for k in ("bid", "ask", "bidSize", "askSize")})
            else:
                state.update({"last": m["price"], "lastSize": m["size"]})
            state["seq"] = m["seq"]


def subscribe_raw(ws: RawWebSocket, symbols, tracker: SeqTracker):
    assert ws.recv_json()["type"] == "welcome"
    ws.send_json({"op": "subscribe", "id": 1, "symbols": symbols})
    assert ws.recv_json()["type"] == "ack"
    for _ in symbols:
        m = ws.recv_json()
        assert m["type"] == "snapshot"
        tracker.apply(m)


def swarm(hub, seconds: float, *extra: str) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        result = feedsim("swarm", "--url", hub.ws_url, "--clients", "20", "--subscribe", "10", "--duration", str(seconds),
                         "--warmup", "1", "--json", out.name, *extra)
        assert result.returncode == 0, result.stderr
        return json.load(open(out.name))


def test_stalled_clients_are_bounded_conflated_and_do_not_slow_the_others(start_hub):
    hub = start_hub("--symbols", "50", "--rate", "2000", "--max-backlog-bytes", "65536", "--slow-client-timeout", "120")
    symbols = hub.get_json("/v1/symbols")

    baseline = swarm(hub, 4)
    assert baseline["gapMessages"] == 0
    rss_before = rss_bytes(hub.process.pid)

    # Ten dashboards subscribe to everything, then stop reading, with small receive buffers.
    stalled = []
    for _ in range(10):
        ws = RawWebSocket(hub.port, receive_buffer=4096)
        tracker = SeqTracker()
        subscribe_raw(ws, symbols, tracker)
        stalled.append((ws, tracker))
    deadline = time.time() + 15
    while hub.get_json("/stats")["backloggedConnections"] < 10:
        assert time.time() < deadline, hub.get_json("/stats")
        time.sleep(0.1)

    peak = [rss_before]
    sampling = threading.Event()

    def sample():
        while not sampling.is_set():
            peak[0] = max(peak[0], rss_bytes(hub.process.pid))
            time.sleep(0.05)

    sampler = CheckedThread(sample)
    sampler.start()
    try:
        during = swarm(hub, 4)
    finally:
        sampling.set()
        sampler.join()

    # 1. Isolation: the fast clients lost nothing, and their tail latency is within noise.
    assert during["gapMessages"] == 0 and during["closedByServer"] == 0
    base_p99, during_p99 = baseline["latencyMs"]["p99"], during["latencyMs"]["p99"]
    print(f"fast-client p99: {base_p99:.2f} ms alone, {during_p99:.2f} ms next to 10 stalled clients")
    assert during_p99 <= max(3 * base_p99, base_p99 + 15), (baseline["latencyMs"], during["latencyMs"])
    # Memory stays bounded: unbounded queues would hold ~10 x 2000 x 140 B = 2.8 MB per second of stall
    # (over 20 MB by now); the bound is 64 KiB each.
    growth = peak[0] - rss_before
    print(f"hub RSS grew {growth / 1048576:.1f} MiB with 10 stalled clients")
    assert growth < 6 * 1048576, growth
    stats = hub.get_json("/stats")
    assert stats["backloggedConnections"] == 10 and stats["slowConsumerEvictions"] == 0

    # 2. Conflation: each stalled client, reading again, gets the latest values with visible gaps, and
    # 3. the hub's count of what it dropped equals the gaps the client saw.
    latest = {s["symbol"]: s["seq"] for s in hub.get_json("/v1/snapshot")}
    for ws, tracker in stalled:
        counters = read_until_stats(ws, tracker)
        assert tracker.conflated > 0 and tracker.gaps > 0
        assert counters["dropped"] == tracker.gaps, (counters, tracker.gaps)
        assert counters["conflated"] == tracker.conflated, counters
        assert all(tracker.seq[s] >= latest[s] for s in symbols), "a symbol was left behind"
        ws.close()
    stats = hub.get_json("/stats")
    assert stats["drops"] >= sum(t.gaps for _, t in stalled)


@pytest.mark.parametrize("ring", ["8388608", "65536"])
def test_after_a_burst_every_subscriber_converges_to_the_final_seq(start_hub, ring):
    """A finite burst through /ingest, then quiet: fast, throttled and stalled subscribers all end
    with exactly the final seq and values of every symbol. With the 64 KiB ring each published batch
    (~5,000 ticks) is bigger than the ring, so every loop consumer is lapped and must resync."""
    hub = start_hub("--feed", "ingest", "--ring-bytes", ring, "--max-backlog-bytes", "16384")
    ingest = f"ws://127.0.0.1:{hub.port}/ingest"
    first = feedsim("publish", "--url", ingest, "--count", "200", "--symbols", "20", "--rate", "20000")
    assert first.returncode == 0, first.stderr
    symbols = hub.get_json("/v1/symbols")

    stalled = [(RawWebSocket(hub.port, receive_buffer=4096), SeqTracker()) for _ in range(2)]
    throttled = [(RawWebSocket(hub.port, receive_buffer=4096), SeqTracker()) for _ in range(2)]
    for ws, tracker in stalled + throttled:
        subscribe_raw(ws, symbols, tracker)

    stop_throttled = threading.Event()

    def read_slowly(ws, tracker):
        ws.sock.settimeout(0.5)
        while not stop_throttled.is_set():
            try:
                m = ws.recv_json()
            except TimeoutError:
                continue
            tracker.apply(m)
            time.sleep(0.002)  # ~500 messages/s: far below the burst

    readers = [CheckedThread(read_slowly, *pair) for pair in throttled]
    for reader in readers:
        reader.start()

    async def fast_clients():
        clients = []
        for _ in range(2):
            ws = await websockets.connect(hub.ws_url, compression=None, max_queue=None)
            await ws.recv()
            await ws.send(json.dumps({"op": "subscribe", "id": 1, "symbols": symbols}))
            tracker = SeqTracker()
            assert json.loads(await ws.recv())["type"] == "ack"
            for _ in symbols:
                tracker.apply(json.loads(await ws.recv()))
            clients.append((ws, tracker))

        publisher = await asyncio.create_subprocess_exec(
            str(BIN_DIR / "feedsim"), "publish", "--url", ingest, "--count", "30000", "--symbols", "20",
            "--rate", "500000", "--batch-ms", "10", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)

        async def drain(ws, tracker):
            loop = asyncio.get_running_loop()
            last_update = loop.time()
            while loop.time() - last_update < 2:
                try:
                    m = json.loads(await asyncio.wait_for(ws.recv(), 0.5))
                except asyncio.TimeoutError:
                    continue
                if m["type"] in ("quote", "trade", "conflated"):
                    last_update = loop.time()
                    tracker.apply(m)
            await ws.send(json.dumps({"op": "stats", "id": 9}))
            while (m := json.loads(await ws.recv()))["type"] != "stats":
                tracker.apply(m)
            return m["counters"]

        fast_counters = await asyncio.gather(*(drain(ws, tracker) for ws, tracker in clients))
        _, err = await publisher.communicate()
        assert publisher.returncode == 0, err.decode()
        for ws, _ in clients:
            await ws.close()
        return [(counters, tracker) for counters, (_, tracker) in zip(fast_counters, clients)]

    fast = asyncio.run(fast_clients())
    stop_throttled.set()
    for reader in readers:
        reader.join()

    final = {s["symbol"]: s for s in hub.get_json("/v1/snapshot")}
    assert sum(s["seq"] for s in final.values()) == 30200
    everyone = list(fast)
    for ws, tracker in stalled + throttled:
        ws.sock.settimeout(10)
        everyone.append((read_until_stats(ws, tracker), tracker))
        ws.close()
    for counters, tracker in everyone:
        assert counters["dropped"] == tracker.gaps, (counters, tracker.gaps)
        for symbol, snapshot in final.items():
            assert tracker.seq[symbol] == snapshot["seq"], (symbol, tracker.seq[symbol], snapshot["seq"])
            state = tracker.state[symbol]
            for field in ("bid", "ask", "bidSize", "askSize", "last", "lastSize"):
                if field in snapshot:
                    assert state.get(field) == snapshot[field], (symbol, field, state, snapshot)
    # The stalled ones could not have kept up: they were conflated, and saw it.
    for _, tracker in stalled:
        assert tracker.conflated > 0 and tracker.gaps > 0
    stats = hub.get_json("/stats")
    print(f"ring {ring}: laps {stats['ringLaps']}, drops {stats['drops']}, conflated {stats['conflated']}")
    if ring == "65536":
        assert stats["ringLaps"] > 0


def read_until_quiet(ws: RawWebSocket, tracker: SeqTracker, quiet: float) -> int:
    """Applies what arrives until nothing has for `quiet` seconds; returns how many updates came."""
    ws.sock.settimeout(quiet)
    count = 0
    while True:
        try:
            m = ws.recv_json()
        except TimeoutError:
            return count
        assert m is not None, f"closed with {ws.close_code}"
        tracker.apply(m)
        count += 1


def test_a_client_that_only_reads_ends_with_the_latest_values_after_the_feed_stops(start_hub):
    """Issue 24, item 1: a slow client that never sends a request (so nothing but its reading can
    flush what it is owed) falls behind during a burst, the feed then stops for good, and it must
    still end with the final seq and values of every symbol, each skipped update counted."""
    hub = start_hub("--feed", "ingest", "--max-backlog-bytes", "65536", "--slow-client-timeout", "30")
    ingest = f"ws://127.0.0.1:{hub.port}/ingest"
    first = feedsim("publish", "--url", ingest, "--count", "2000", "--symbols", "50", "--rate", "20000")
    assert first.returncode == 0, first.stderr
    symbols = hub.get_json("/v1/symbols")
    assert len(symbols) == 50
    ws, tracker = RawWebSocket(hub.port, receive_buffer=4096), SeqTracker()
    subscribe_raw(ws, symbols, tracker)
    burst = subprocess.Popen([str(BIN_DIR / "feedsim"), "publish", "--url", ingest, "--count", "60000", "--symbols", "50",
                              "--rate", "20000"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(2)  # not reading: the backlog fills and the symbols go stale
    while burst.poll() is None:
        read_until_quiet(ws, tracker, 0.2)
    _, err = burst.communicate()
    assert burst.returncode == 0, err.decode()
    # The feed is quiet from here on: nothing but the client's reading can bring what it is owed.
    read_until_quiet(ws, tracker, 1.5)
    final = {s["symbol"]: s for s in hub.get_json("/v1/snapshot")}
    assert sum(s["seq"] for s in final.values()) == 62000
    behind = {symbol: (tracker.seq[symbol], snapshot["seq"]) for symbol, snapshot in final.items()
              if tracker.seq[symbol] != snapshot["seq"]}
    assert not behind, f"left behind on {len(behind)} of 50 symbols: {dict(list(behind.items())[:5])}"
    for symbol, snapshot in final.items():
        for field in ("bid", "ask", "bidSize", "askSize", "last", "lastSize"):
            if field in snapshot:
                assert tracker.state[symbol].get(field) == snapshot[field], (symbol, field)
    assert tracker.conflated > 0, "the client never fell behind: the scenario tested nothing"
    # Only now a request: its answer must agree with the gaps the client saw.
    counters = read_until_stats(ws, tracker)
    assert counters["dropped"] == tracker.gaps and counters["stale"] == 0
    ws.close()


def test_a_client_that_never_reads_is_evicted_with_4008(start_hub):
    hub = start_hub("--symbols", "50", "--rate", "2000", "--slow-client-timeout", "2")
    symbols = hub.get_json("/v1/symbols")
    never_reads = RawWebSocket(hub.port, receive_buffer=4096)
    subscribe_raw(never_reads, symbols, SeqTracker())

    async def healthy_client_stays():
        async with websockets.connect(hub.ws_url, max_queue=None) as ws:
            await ws.recv()
            await ws.send(json.dumps({"op": "subscribe", "id": 1, "symbols": symbols[:5]}))
            received = 0

            async def keep_reading():
                nonlocal received
                async for _ in ws:
                    received += 1

            reader = asyncio.create_task(keep_reading())
            started = time.time()
            while hub.get_json("/stats")["slowConsumerEvictions"] < 1:
                assert time.time() - started < 20, "not evicted"
                await asyncio.sleep(0.1)
            evicted_after = time.time() - started
            # Still served after the eviction.
            before = received
            await asyncio.sleep(0.5)
            assert received > before
            reader.cancel()
            return evicted_after

    evicted_after = asyncio.run(healthy_client_stays())
    assert evicted_after >= 1.5  # the backlog fills within a fraction of a second, then 2 s must pass
    # What was queued is still delivered, then the close frame, within the eviction grace.
    while never_reads.recv_json() is not None:
        pass
    assert never_reads.close_code == 4008 and never_reads.close_reason == "slow consumer"
    assert "evicting slow consumer" in hub.log_text()
    assert "backlog full for 2.0s" in hub.log_text()
    # One line per connection open and close, with the reason.
    assert "subscriber connected" in hub.log_text()
    deadline = time.time() + 10  # written once the hub has closed the socket
    while not re.search(r"reason=4008 slow consumer .*subscriber disconnected", hub.log_text()):
        assert time.time() < deadline, hub.log_text()[-2000:]
        time.sleep(0.05)
    stats = hub.get_json("/stats")
    assert stats["slowConsumerEvictions"] == 1 and stats["connections"] == 0


def test_requests_sent_without_reading_the_answers_hit_the_hard_limit(start_hub):
    # A request burst large enough that the rate limit (tested on its own) is not what stops them.
    hub = start_hub("--symbols", "500", "--rate", "10", "--max-backlog-bytes", "16384", "--slow-client-timeout", "120",
                    "--request-burst", "1000")
    ws = RawWebSocket(hub.port, receive_buffer=4096)
    assert ws.recv_json()["type"] == "welcome"
    # 200 `list` requests in one go: ~4 KB of answer each, 800 KB against a hard limit of 64 KiB.
    frames = b""
    for n in range(200):
        frames += text_frame(json.dumps({"op": "list", "id": n}).encode())
    ws.sock.sendall(frames)
    deadline = time.time() + 10
    while hub.get_json("/stats")["slowConsumerEvictions"] < 1:
        assert time.time() < deadline, "not evicted"
        time.sleep(0.1)
    while ws.recv_json() is not None:
        pass
    assert ws.close_code == 4008
    assert "backlog over the hard limit" in hub.log_text()


def test_swarm_with_a_slow_share_reports_both_groups_and_agrees_with_the_hub(start_hub):
    # Small hub-side buffers (16 KiB backlog, 16 KiB socket buffer, which Linux doubles): with the
    # client's 8 KB, ~56 KB sit between the hub and a slow client, so one reading 20 KB/s of a ~50 KB/s
    # stream is conflated after about three seconds.
    hub = start_hub("--symbols", "50", "--rate", "1000", "--max-backlog-bytes", "16384", "--socket-send-buffer", "16384")
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        result = feedsim("swarm", "--url", hub.ws_url, "--clients", "40", "--subscribe", "20", "--duration", "5",
                         "--warmup", "1", "--slow-fraction", "0.25", "--slow-read-bps", "20000", "--json", out.name)
        assert result.returncode == 0, result.stderr
        summary = json.load(open(out.name))
    print(result.stdout)
    assert summary["fast"]["clients"] == 30 and summary["slow"]["clients"] == 10
    assert summary["fast"]["gapMessages"] == 0
    assert summary["slow"]["conflated"] > 0 and summary["slow"]["gapMessages"] > 0
    assert summary["seqRegressions"] == 0
    accounting = summary["dropAccounting"]
    assert accounting["statsReplies"] == 40 and accounting["mismatches"] == 0
    assert accounting["hubDropped"] == accounting["clientGaps"] > 0
    assert "slow clients   10 at 20000 B/s" in result.stdout
