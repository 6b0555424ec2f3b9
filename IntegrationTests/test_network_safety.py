"""What the hub refuses at its door when it is put on a network (SECURITY.md): other web pages'
WebSocket handshakes, and requests that are never finished."""
import asyncio
import concurrent.futures
import json
import os
import re
import resource
import select
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import websockets

from attacker import NAMES as ATTACK_NAMES
from conftest import BIN_DIR, ROOT, feedsim, handshake_status
from test_hostile_inputs import rss_bytes


def origin_status(url: str, origin: str | None) -> int:
    """The status of a subscriber's handshake from a page of `origin` (None: a native client)."""
    return handshake_status(url, origin=origin)[0]


def test_an_origin_allow_list_refuses_other_pages_with_403(start_hub):
    hub = start_hub("--symbols", "20", "--allowed-origin", "https://desk.example.com",
                    "--allowed-origin", "http://localhost:3000")
    assert origin_status(hub.ws_url, "https://desk.example.com") == 101
    assert origin_status(hub.ws_url, "http://localhost:3000") == 101
    assert origin_status(hub.ws_url, None) == 101, "native clients send no Origin"
    assert origin_status(hub.ws_url, f"http://127.0.0.1:{hub.port}") == 101, "the hub's own pages"
    assert origin_status(hub.ws_url, "https://evil.example.net") == 403
    # The refusal says why, in the hub's error format.
    request = urllib.request.Request(hub.http + "/ws", headers={"Origin": "https://evil.example.net"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=5)
    assert refused.value.code == 403
    assert json.loads(refused.value.read())["code"] == "origin_not_allowed"


def test_without_an_allow_list_any_origin_may_connect(hub):
    assert origin_status(hub.ws_url, "https://anywhere.example.org") == 101


def test_a_client_that_floods_requests_is_closed_with_1008_and_a_polite_one_is_not(start_hub):
    hub = start_hub("--symbols", "20", "--max-requests-per-second", "5", "--request-burst", "10")

    async def run():
        polite = await websockets.connect(hub.ws_url, compression=None)
        flood = await websockets.connect(hub.ws_url, compression=None)
        for ws in (polite, flood):
            assert json.loads(await ws.recv())["type"] == "welcome"
        # A burst within the limit is answered in full.
        for n in range(10):
            await flood.send(json.dumps({"op": "ping", "id": n}))
        for n in range(10):
            assert json.loads(await asyncio.wait_for(flood.recv(), 5))["id"] == n
        # Then a sustained flood: closed with 1008.
        with pytest.raises(websockets.ConnectionClosed) as closed:
            for n in range(200):
                await flood.send(json.dumps({"op": "ping", "id": 100 + n}))
            while True:
                await asyncio.wait_for(flood.recv(), 5)
        assert closed.value.rcvd.code == 1008 and closed.value.rcvd.reason == "too many requests"
        # Meanwhile a client pinging twice a second is served throughout.
        for n in range(6):
            await polite.send(json.dumps({"op": "ping", "id": n}))
            assert json.loads(await asyncio.wait_for(polite.recv(), 5))["type"] == "pong"
            await asyncio.sleep(0.5)
        await polite.close()

    asyncio.run(run())
    assert hub.get_json("/stats")["rateLimited"] == 1


def test_a_request_that_is_never_finished_is_closed_after_the_request_timeout(start_hub):
    """Slowloris: headers a byte at a time, or nothing at all, hold a descriptor only until
    --request-timeout; a WebSocket that finished its handshake is not held to it."""
    hub = start_hub("--symbols", "20", "--rate", "200", "--request-timeout", "1.5")
    silent = socket.create_connection(("127.0.0.1", hub.port))
    slow = socket.create_connection(("127.0.0.1", hub.port))
    slow.sendall(b"GET /stats HTTP/1.1\r\nHost: x\r\n")

    async def subscriber():
        async with websockets.connect(hub.ws_url, compression=None) as ws:
            await ws.recv()  # welcome
            await ws.send(json.dumps({"op": "subscribe", "id": 1, "symbols": ["AAPL"]}))
            started = time.time()
            updates = 0
            while time.time() - started < 3:
                if json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] in ("quote", "trade"):
                    updates += 1
            return updates

    started = time.time()
    closed = {}
    with concurrent.futures.ThreadPoolExecutor() as pool:
        updates = pool.submit(asyncio.run, subscriber())

        def trickle():
            """A header byte every 0.3 s until the hub hangs up; when it did."""
            for _ in range(40):
                try:
                    slow.sendall(b"X")
                    ready, _, _ = select.select([slow], [], [], 0.3)
                    if ready and slow.recv(1) == b"":
                        break
                except OSError:  # reset by the hub: closed as well
                    break
            closed["slow"] = time.time() - started

        trickler = pool.submit(trickle)
        silent.settimeout(10)
        assert silent.recv(1) == b"", "the silent connection is closed without an answer"
        closed["silent"] = time.time() - started
        trickler.result()
        assert updates.result() > 50, "the subscriber kept its feed past the request timeout"
    assert 1.2 < closed["silent"] < 4, closed
    assert 1.2 < closed["slow"] < 4, closed
    assert hub.get_json("/stats")["requestTimeouts"] >= 2


def test_a_reconnect_storm_is_admitted_whole_and_nobody_is_taken_for_slowloris(start_hub, tmp_path):
    """Issue 24, item 2, the CI smoke: 5,000 clients connect at once (the neutral C swarm, every connect
    in its first turn), and every one is upgraded, none closed, and the request deadline (1 s here,
    a fifth of the default) closes nobody. At 5,000 this machine's kernel seldom delays a request
    past it, so the earlier build passes too; `make bench-storm` (15,000 at once) is where it did
    not (6,256 of them closed at 1 s), and `RequestDeadlineTests` pins the rule itself."""
    CLIENTS = int(os.environ.get("STORM_CLIENTS", "5000"))
    wsload = ROOT / ".build" / "wsload"
    built = subprocess.run(["make", "-s", ".build/wsload"], cwd=ROOT, capture_output=True, text=True)
    assert built.returncode == 0 and wsload.exists(), built.stderr
    hub = start_hub("--symbols", "500", "--rate", "10", "--request-timeout", "1", "--event-loops", "1",
                    open_files=(CLIENTS + 1000, CLIENTS + 1000))
    summary = tmp_path / "storm.json"
    swarm = subprocess.run([str(wsload), "swarm", "--url", hub.ws_url, "--clients", str(CLIENTS), "--concurrency", str(CLIENTS),
                            "--subscribe", "10", "--warmup", "20", "--duration", "2", "--connect-timeout", "30",
                            "--json", str(summary), "--quiet"], capture_output=True, text=True, timeout=120,
                           preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (CLIENTS + 1000, CLIENTS + 1000)))
    assert swarm.returncode == 0, swarm.stderr
    result = json.loads(summary.read_text())
    stats = hub.get_json("/stats")
    print(f"storm: {result['connected']} upgraded in {result['rampSeconds']} s, "
          f"{stats['requestTimeouts']} request timeouts, {result['closedByServer']} closed")
    assert stats["requestTimeouts"] == 0
    assert result["connected"] == CLIENTS and result["subscribed"] == CLIENTS
    assert result["closedByServer"] == 0 and result["failed"] == 0 and result["openAtEnd"] == CLIENTS


def cpu_seconds(pid: int) -> float:
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_a_request_head_past_the_limit_is_answered_431(start_hub):
    hub = start_hub("--symbols", "5", "--max-header-bytes", "4096")
    status, body = hub.get("/healthz")
    assert status == 200
    request = urllib.request.Request(hub.http + "/healthz", headers={"X-Padding": "x" * 5000})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=5)
    assert refused.value.code == 431
    assert json.loads(refused.value.read())["code"] == "header_too_large"
    # A handshake too: refused before the upgrade, and counted.
    async def handshake():
        try:
            async with websockets.connect(hub.ws_url, additional_headers={"Cookie": "c=" + "y" * 5000}):
                return 101
        except websockets.InvalidStatus as error:
            return error.response.status_code
    assert asyncio.run(handshake()) == 431
    assert hub.get_json("/stats")["handshakesRefused"] == 2


def test_out_of_file_descriptors_the_hub_pauses_accepting_serves_its_clients_and_recovers(start_hub):
    # Started with a soft limit of 64 under a hard one of 160: the hub raises the soft limit itself.
    hub = start_hub("--symbols", "20", "--rate", "200", "--request-timeout", "120", open_files=(64, 160))
    line = next(line for line in hub.log_text().splitlines() if "open files limit" in line)
    assert "soft=160" in line and "was=64" in line and "hard=160" in line, line

    async def run():
        ws = await websockets.connect(hub.ws_url, compression=None)
        await ws.recv()  # welcome
        await ws.send(json.dumps({"op": "subscribe", "id": 1, "symbols": ["AAPL"]}))
        # More connections than descriptors: the last ones wait in the listen backlog.
        hogs = [socket.create_connection(("127.0.0.1", hub.port)) for _ in range(250)]
        await asyncio.sleep(1.0)
        cpu_before, seqs = cpu_seconds(hub.process.pid), []
        deadline = time.time() + 2
        while time.time() < deadline:
            message = json.loads(await asyncio.wait_for(ws.recv(), 5))
            if message["type"] in ("quote", "trade"):
                seqs.append(message["seq"])
        cpu = cpu_seconds(hub.process.pid) - cpu_before
        assert len(seqs) > 20, "the subscriber is served while the listener cannot accept"
        assert all(b == a + 1 for a, b in zip(seqs, seqs[1:])), "and misses nothing"
        assert cpu < 1.0, f"the accepting loop must not spin: {cpu:.2f} CPU-s in 2 s"
        # Descriptors free up: the waiting connections, and new ones, are accepted again.
        for hog in hogs[:200]:
            hog.close()
        async with websockets.connect(hub.ws_url, compression=None, open_timeout=10) as late:
            assert json.loads(await late.recv())["type"] == "welcome"
        for hog in hogs[200:]:
            hog.close()
        await ws.close()

    asyncio.run(run())
    assert hub.get_json("/stats")["acceptFailures"] > 0
    assert "cannot accept connections; pausing accepts" in hub.log_text()


def test_connection_limits_answer_429_and_503_at_the_handshake(start_hub):
    hub = start_hub("--symbols", "20", "--max-connections", "4", "--max-connections-per-ip", "2",
                    "--handshakes-per-second-per-ip", "0.5", "--handshake-burst", "4")

    def handshake(source: str):
        """(status, error code) of a raw WebSocket handshake from a loopback source address; the
        socket is kept open while the hub holds the connection."""
        sock = socket.create_connection(("127.0.0.1", hub.port), source_address=(source, 0))
        sock.sendall(b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        sock.settimeout(5)
        response = b""
        while b"\r\n\r\n" not in response:
            response += sock.recv(4096)
        status = int(response.split(b" ")[1])
        code = None
        if status != 101:
            head, body = response.split(b"\r\n\r\n", 1)
            length = int(re.search(rb"Content-Length: (\d+)", head).group(1))
            while len(body) < length:
                body += sock.recv(4096)
            code = json.loads(body)["code"]
        return status, code, sock

    held = []
    for source in ["127.0.0.2", "127.0.0.2", "127.0.0.3", "127.0.0.3"]:
        status, _, sock = handshake(source)
        assert status == 101
        held.append(sock)
    assert handshake("127.0.0.2")[:2] == (429, "too_many_connections")
    assert handshake("127.0.0.4")[:2] == (503, "server_full")
    # A place given back is a place for someone else.
    held.pop().close()
    time.sleep(0.2)
    status, _, sock = handshake("127.0.0.4")
    assert status == 101
    held.append(sock)
    # 127.0.0.2 made three handshakes of its burst of four: once it has room again, one more is
    # admitted, and the next is refused for its rate (half a handshake a second).
    for sock in held[:2]:
        sock.close()
    time.sleep(0.2)
    status, _, sock = handshake("127.0.0.2")
    assert status == 101
    held.append(sock)
    assert handshake("127.0.0.2")[:2] == (429, "too_many_handshakes")
    for sock in held[2:]:
        sock.close()
    assert hub.get_json("/stats")["handshakesRefused"] == 3


def test_ingest_needs_the_publisher_token_and_caps_new_symbols_per_publisher(start_hub):
    hub = start_hub("--feed", "ingest", "--ingest-token", "s3cret-Token", "--max-new-symbols-per-publisher", "50")
    ingest = f"ws://127.0.0.1:{hub.port}/ingest"
    # Forged: no token, or the wrong one. Refused at the handshake, nothing published.
    for token in (None, "s3cret-Tokex"):
        args = ["publish", "--url", ingest, "--count", "100", "--symbols", "10"] + (["--token", token] if token else [])
        forged = feedsim(*args)
        assert forged.returncode != 0 and "401" in forged.stderr + forged.stdout
    status, body = hub.get("/ingest?token=nope")
    assert status == 401 and json.loads(body)["code"] == "unauthorized"
    assert hub.get_json("/stats")["ticksIn"] == 0
    # The real publisher, by header (feedsim) and by query parameter (a raw handshake).
    published = feedsim("publish", "--url", ingest, "--count", "200", "--symbols", "20", "--token", "s3cret-Token")
    assert published.returncode == 0, published.stderr
    assert hub.get_json("/stats")["ticksIn"] == 200
    assert websockets_handshake(f"{ingest}?token=s3cret-Token") == 101
    # A publisher adding more new symbols than its quota is closed with 1008; the directory keeps
    # room for everyone else.
    greedy = feedsim("publish", "--url", ingest, "--count", "5000", "--symbols", "400", "--token", "s3cret-Token")
    assert greedy.returncode == 3 and "1008" in greedy.stderr, (greedy.returncode, greedy.stderr[-500:])
    assert len(hub.get_json("/v1/symbols")) <= 20 + 50
    # The quota is the publisher's, not its connection's: reconnecting does not start it again.
    for attempt in range(3):
        again = feedsim("publish", "--url", ingest, "--count", "5000", "--symbols", "400", "--seed", str(attempt + 7),
                        "--token", "s3cret-Token")
        assert again.returncode == 3 and "1008" in again.stderr, (again.returncode, again.stderr[-500:])
    assert len(hub.get_json("/v1/symbols")) <= 20 + 50
    assert "new symbol limit per publisher reached" in hub.log_text()


def websockets_handshake(url: str) -> int:
    async def run():
        try:
            async with websockets.connect(url, compression=None):
                return 101
        except websockets.InvalidStatus as refused:
            return refused.response.status_code
    return asyncio.run(run())


def test_an_ingest_hub_beyond_loopback_will_not_start_without_a_token():
    result = subprocess.run([str(BIN_DIR / "tickerhub"), "--feed", "ingest", "--host", "0.0.0.0", "--port", "0"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode != 0 and "--ingest-token" in result.stderr


def test_an_admin_port_takes_the_operator_endpoints_and_ingest_off_the_public_listener(start_hub):
    hub = start_hub("--feed", "ingest", "--admin-port", "0")
    admin_port = int(re.search(r"admin_address=127\.0\.0\.1:(\d+)", hub.log_text()).group(1))
    admin = f"http://127.0.0.1:{admin_port}"

    def status(base, path):
        try:
            with urllib.request.urlopen(base + path, timeout=5) as response:
                return response.status
        except urllib.error.HTTPError as error:
            return error.code

    for path in ("/metrics", "/stats", "/stats/catalog", "/ops", "/assets/ops.js"):
        assert status(hub.http, path) == 404, path
        assert status(admin, path) == 200, path
    for path in ("/", "/v1/symbols", "/assets/watchlist.js"):
        assert status(hub.http, path) == 200, path
        assert status(admin, path) == 404, path
    assert status(admin, "/healthz") == 200 and status(hub.http, "/healthz") == 200
    # Publishers use the admin listener; subscribers the public one, and not the other way round.
    assert websockets_handshake(f"ws://127.0.0.1:{hub.port}/ingest") == 404
    assert websockets_handshake(f"ws://127.0.0.1:{admin_port}/ws") == 404
    published = feedsim("publish", "--url", f"ws://127.0.0.1:{admin_port}/ingest", "--count", "50", "--symbols", "5")
    assert published.returncode == 0, published.stderr
    assert websockets_handshake(hub.ws_url) == 101


def test_an_attacker_running_every_bad_input_does_not_disturb_a_clean_subscriber(start_hub):
    """SECURITY.md's bad inputs all at once (attacker.py, its own process and addresses) while a clean
    client follows 20 symbols: the clean client misses nothing, the hub answers each attack as
    documented (printed), and its memory stays within 50 MB of its quiet self.

    The clean client's latency under attack is a measurement, not a check here: on two shared cores
    it moves with any CPU the attacker burns, whatever it attacks. `make bench-under-attack` reports
    it beside a quiet twin's (Benchmarks/e2e/under_attack.py). ATTACKS=name,... runs some of the
    attacks; HUB_EXTRA adds hub flags."""
    # Pings every second and a 3 s slow-client timeout, so that the clients that stop reading are
    # given up on within the round.
    flags = ["--feed", "ingest", "--ingest-token", "good", "--request-timeout", "2", "--max-connections-per-ip", "50",
             "--handshakes-per-second-per-ip", "200", "--handshake-burst", "400", "--ping-interval", "1",
             "--slow-client-timeout", "3", *os.environ.get("HUB_EXTRA", "").split()]
    hub = start_hub(*flags)
    attacks = os.environ.get("ATTACKS", ",".join(ATTACK_NAMES))
    # Runs until the test stops it, however long the round takes.
    publisher = subprocess.Popen([str(BIN_DIR / "feedsim"), "publish", "--url", f"ws://127.0.0.1:{hub.port}/ingest",
                                  "--rate", "400", "--symbols", "20", "--duration", "3600", "--token", "good"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 15
        while len(hub.get_json("/v1/symbols")) < 20:
            assert time.time() < deadline, "the publisher did not start"
            assert publisher.poll() is None, "the publisher exited"
            time.sleep(0.1)
        symbols = hub.get_json("/v1/symbols")

        async def run():
            ws = await websockets.connect(hub.ws_url, compression=None, max_queue=None)
            await ws.recv()  # welcome
            await ws.send(json.dumps({"op": "subscribe", "id": 1, "symbols": symbols}))
            last, gaps = {}, []

            async def follow(until):
                """Reads until `until()` is true; returns how many updates came, and their p99 latency."""
                latencies = []
                while not until():
                    message = json.loads(await asyncio.wait_for(ws.recv(), 5))
                    now = time.time_ns()
                    if message["type"] in ("snapshot", "quote", "trade", "conflated"):
                        symbol, seq = message["symbol"], message["seq"]
                        if message["type"] == "conflated" or (symbol in last and seq != last[symbol] + 1):
                            gaps.append((symbol, last.get(symbol), seq, message["type"]))
                        last[symbol] = seq
                        if message["type"] != "snapshot":
                            latencies.append((now - message["ts"]) / 1e6)
                latencies.sort()
                return len(latencies), latencies[int(len(latencies) * 0.99)] if latencies else None

            def after(seconds):
                end = time.time() + seconds
                return lambda: time.time() >= end

            await follow(after(2))  # settle
            quiet = await follow(after(4))
            rss["quiet"] = rss_bytes(hub.process.pid)
            attacker = await asyncio.create_subprocess_exec(
                sys.executable, str(Path(__file__).with_name("attacker.py")), "--port", str(hub.port),
                "--duration", "6", "--attacks", attacks, "--ingest-token", "good",
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
            # Follow for as long as the attacker runs (its threads end when it exits), then a second more.
            waiting = asyncio.ensure_future(attacker.communicate())
            here = await follow(waiting.done)
            out, err = await waiting
            assert attacker.returncode == 0, err.decode()[-2000:]
            await follow(after(1))
            rss["attacked"] = rss_bytes(hub.process.pid)
            await ws.close()
            return quiet, here, json.loads(out), gaps

        rss = {}
        quiet, here, answers, gaps = asyncio.run(run())
    finally:
        publisher.kill()
    print(f"clean client: {quiet[0]} updates in 4 quiet s (p99 {quiet[1]} ms), {here[0]} during the attack (p99 {here[1]} ms)")
    print(json.dumps(answers, indent=1))
    print(f"hub RSS: {rss['quiet'] / 1e6:.1f} MB quiet, {rss['attacked'] / 1e6:.1f} MB after the attack")
    assert not gaps, gaps[:10]
    assert hub.process.poll() is None, "the hub died"
    assert rss["attacked"] - rss["quiet"] < 50e6, rss
    assert here[0] > 0, "the clean client got nothing while the attacker ran"
    if os.environ.get("ATTACKS"):
        return
    # What the hub answered each attack.
    assert any("closed by the hub after" in a for a in answers["slowloris"]), answers
    assert {"101", "429"} <= set(answers["connection flood"]), answers
    assert answers["subscribe flood"] == ["1008"], answers
    assert answers["oversized frame (4 MiB announced)"] == ["1009"], answers
    assert [a for k, a in answers.items() if k.startswith("zip bomb")] == [["1009"]], answers
    assert answers["invalid UTF-8"] == ["1007"], answers
    assert answers["pings after Close"] == ["close 1007, 0 pongs after it"], answers
    for forged in ("forged ingest (no token)", "forged ingest (wrong token)", "forged ingest (wrong ?token=)"):
        assert answers[forged] == ["401"], answers
    assert answers["ping flood"] == ["1008"], answers
    assert answers["unread pipelining"] == ["closed by the hub"], answers
    assert {"200", "429"} <= set(answers["http connection flood"]), answers
    assert answers["half-full backlog"] == ["closed by the hub"], answers
    assert answers["web page publishing"] == ["403"], answers
    assert answers["seqs past 2^53"] == ["1007"], answers
    assert all("dropped" not in a and "Error" not in a for a in answers["resume across a gap"]), answers
    assert answers["far-future token"] == ["101"], answers  # auth is off here: the token is not read
