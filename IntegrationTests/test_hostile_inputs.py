"""Values a client, a publisher or a token controls must never crash the hub or grow its memory
(SECURITY.md, "Limits on what others control"). Each test drives one such value against the real
hub, next to a clean client that must keep being served, and checks the hub is alive at the end."""
import socket
import struct
import time

import jwt

from attacker import quote_batch
from conftest import raw_handshake_status
from rawws import RawWebSocket, text_frame

SECRET = "integration-test-secret-32-bytes-or-more"
NEVER = 253402300799  # 9999-12-31T23:59:59Z: a common "never expires"
MAX_SEQ = (1 << 53) - 1


def rss_bytes(pid: int) -> int:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def publisher(port: int) -> RawWebSocket:
    return RawWebSocket(port, path="/ingest")


def publish(ws: RawWebSocket, *records: tuple[str, int]):
    ws.sock.sendall(text_frame(quote_batch(*records), opcode=0x2))


def wait_for(condition, timeout=10.0, what="condition"):
    deadline = time.time() + timeout
    while not condition():
        assert time.time() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def clean_client(hub, symbols):
    """A subscriber that must go on being served: subscribed, and past its snapshots."""
    ws = RawWebSocket(hub.port)
    assert ws.recv_json()["type"] == "welcome"
    ws.send_json({"op": "subscribe", "id": 1, "symbols": symbols})
    assert ws.recv_json()["type"] == "ack"
    return ws


def assert_alive(hub):
    assert hub.process.poll() is None, hub.log_text()[-3000:]
    status, _ = hub.get("/healthz")
    assert status == 200


# Item 1: a token's exp is the issuer's number.

def test_a_token_that_never_expires_is_accepted_and_the_hub_lives(start_hub):
    hub = start_hub("--feed", "ingest", "--auth-secret", SECRET, "--ingest-token", "feed-secret")
    assert "auth is on but /metrics, /stats and /ops are public" in hub.log_text(), "the operator is warned"
    # A clean client, with an ordinary token, follows AAPL throughout.
    feed = RawWebSocket(hub.port, path="/ingest?token=feed-secret")
    publish(feed, ("AAPL", 1))
    wait_for(lambda: hub.get_json("/stats")["ticksIn"] >= 1, what="the first tick")
    ordinary = jwt.encode({"sub": "desk-1", "exp": int(time.time()) + 600, "symbols": ["AAPL"]}, SECRET, algorithm="HS256")
    watcher = RawWebSocket(hub.port, path=f"/ws?token={ordinary}")
    assert watcher.recv_json()["type"] == "welcome"
    watcher.send_json({"op": "subscribe", "id": 1, "symbols": ["AAPL"]})
    assert [watcher.recv_json()["type"] for _ in range(2)] == ["ack", "snapshot"]
    forever = jwt.encode({"sub": "desk-7", "exp": NEVER, "symbols": ["AAPL"], "publish": True}, SECRET, algorithm="HS256")
    # At the handshake...
    ws = RawWebSocket(hub.port, path=f"/ws?token={forever}")
    welcome = ws.recv_json()
    assert welcome["type"] == "welcome" and welcome["tokenExpiresAt"] == NEVER * 1000
    # ...in an auth request on a live connection...
    ws.send_json({"op": "auth", "id": 2, "token": forever})
    assert ws.recv_json() == {"type": "ack", "id": 2, "op": "auth", "tokenExpiresAt": NEVER * 1000}
    # ...and at /ingest.
    ingest = RawWebSocket(hub.port, path=f"/ingest?token={forever}")
    publish(ingest, ("AAPL", 2))
    # Far past any date a Double turns into an Int64: the same, no trap.
    for exp in (1e300, 2 ** 63, 2 ** 64 + 1):
        token = jwt.encode({"sub": "desk-7", "exp": exp, "symbols": ["AAPL"]}, SECRET, algorithm="HS256")
        other = RawWebSocket(hub.port, path=f"/ws?token={token}")
        assert other.recv_json()["type"] == "welcome"
        other.close()
    publish(feed, ("AAPL", 3))
    assert [watcher.recv_json()["seq"] for _ in range(2)] == [2, 3], "the clean client missed nothing"
    ws.close()
    ingest.close()
    assert_alive(hub)


# Item 2: HTTP pipelining from a client that never reads.

def test_pipelined_requests_that_are_never_read_hold_the_hub_to_its_backlog_limit(start_hub):
    hub = start_hub("--symbols", "500", "--rate", "100", "--slow-client-timeout", "4")
    quiet = rss_bytes(hub.process.pid)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", hub.port))
    sock.settimeout(0.5)
    request = b"GET /v1/snapshot HTTP/1.1\r\nHost: x\r\n\r\n"
    sent, started = 0, time.time()
    try:
        while sent < 10_000 and time.time() - started < 6:
            sock.sendall(request)
            sent += 1
    except (socket.timeout, OSError):
        pass  # the hub stopped reading: that is the point
    time.sleep(1.0)
    grown = rss_bytes(hub.process.pid) - quiet
    print(f"sent {sent} pipelined requests; the hub's RSS grew {grown / 1e6:.1f} MB")
    assert grown < 30e6, f"{grown / 1e6:.0f} MB for one connection that reads nothing"
    # Everyone else is served meanwhile, and the stalled connection is closed, counted.
    status, _ = hub.get("/v1/symbols")
    assert status == 200
    wait_for(lambda: hub.get_json("/stats")["httpUnreadCloses"] == 1, timeout=15, what="the unread connection's close")
    sock.close()
    assert_alive(hub)


# Items 3 and 4: seqs from a publisher, and `since` across a gap.

def test_the_largest_seqs_are_numbered_on_and_larger_ones_refused(start_hub):
    hub = start_hub("--feed", "ingest", "--history", "16")
    ingest = publisher(hub.port)
    publish(ingest, ("AAPL", 1))
    wait_for(lambda: hub.get_json("/v1/symbols") == ["AAPL"], what="AAPL")
    watcher = clean_client(hub, ["AAPL"])
    assert watcher.recv_json()["seq"] == 1
    # The largest seq a publisher may give, then one the hub numbers, then a huge jump: the hub
    # numbers past the first, and refuses the last as a malformed batch (1007), alive.
    publish(ingest, ("AAPL", MAX_SEQ), ("AAPL", 0))
    seqs = [watcher.recv_json()["seq"] for _ in range(2)]
    assert seqs == [MAX_SEQ, MAX_SEQ + 1]
    publish(ingest, ("AAPL", 2 ** 64 - 1))
    assert ingest.recv_json() is None and ingest.close_code == 1007 and "seq" in ingest.close_reason
    # A client resuming from seq 1 across a gap of 2^53: the replay is what the history holds.
    resumed = RawWebSocket(hub.port)
    resumed.recv_json()  # welcome
    resumed.send_json({"op": "subscribe", "id": 1, "symbols": ["AAPL"], "since": {"AAPL": 1}})
    answers = [resumed.recv_json() for _ in range(3)]
    assert answers[0]["type"] == "ack"
    assert [a["seq"] for a in answers[1:]] == [MAX_SEQ, MAX_SEQ + 1], answers
    publish(second := publisher(hub.port), ("AAPL", 0))
    assert watcher.recv_json()["seq"] == MAX_SEQ + 2
    assert hub.get_json("/stats")["upstreamGaps"] == MAX_SEQ - 2
    second.close()
    assert_alive(hub)


# Item 6: pings are requests.

def test_a_ping_flood_is_closed_like_a_request_flood(start_hub):
    hub = start_hub("--symbols", "AAPL", "--rate", "200", "--max-requests-per-second", "20", "--request-burst", "50")
    watcher = clean_client(hub, ["AAPL"])
    flood = RawWebSocket(hub.port, receive_buffer=4096)
    flood.recv_json()  # welcome
    try:
        flood.sock.sendall(b"".join(text_frame(b"x" * 4, opcode=0x9) for _ in range(5000)))
    except OSError:
        pass
    code = None
    try:
        while True:
            opcode, payload = flood.recv_frame()
            if opcode == 0x8:
                code = struct.unpack("!H", payload[:2])[0]
                break
    except (OSError, ConnectionError):
        pass
    assert code == 1008
    assert hub.get_json("/stats")["rateLimited"] == 1
    assert [watcher.recv_json()["type"] for _ in range(3)][1:] in (["quote"] * 2, ["quote", "trade"], ["trade", "quote"], ["trade"] * 2)
    assert_alive(hub)


# Item 7: a backlog that is neither empty nor full, never read.

def test_a_client_holding_a_half_full_backlog_that_never_reads_is_closed(start_hub):
    hub = start_hub("--symbols", "50", "--rate", "4000", "--ping-interval", "1", "--max-backlog-bytes", "4194304",
                    "--socket-send-buffer", "4096")
    symbols = hub.get_json("/v1/symbols")
    stuck = RawWebSocket(hub.port, receive_buffer=4096)
    stuck.recv_json()  # welcome
    stuck.send_json({"op": "subscribe", "id": 1, "symbols": symbols})
    time.sleep(0.5)  # updates queue up for it, far below the 4 MiB that would make the backlog full
    stuck.send_json({"op": "unsubscribe", "id": 2, "symbols": symbols})
    # Nothing more is queued for it, and it reads nothing: pinged, then closed as gone.
    wait_for(lambda: hub.get_json("/stats")["pingTimeouts"] == 1, timeout=15, what="the ping timeout")
    wait_for(lambda: hub.get_json("/stats")["connections"] == 0, timeout=10, what="the close")
    stuck.close()
    assert_alive(hub)


# Item 8: the echo listener.

def test_the_echo_listener_is_on_loopback_and_reads_no_faster_than_its_echoes_go(start_hub):
    hub = start_hub("--symbols", "5", "--rate", "5", "--host", "0.0.0.0", "--echo-port", "0")
    wait_for(lambda: "echo=127.0.0.1:" in hub.log_text(), what="the echo listener")
    port = int(hub.log_text().split("echo=127.0.0.1:")[1].split()[0])
    quiet = rss_bytes(hub.process.pid)
    echo = RawWebSocket(port, path="/", receive_buffer=4096)
    echo.sock.settimeout(0.5)
    message = text_frame(b"e" * (1 << 20), opcode=0x2)
    sent = 0
    try:
        for _ in range(64):
            echo.sock.sendall(message)
            sent += 1
    except (socket.timeout, OSError):
        pass
    time.sleep(0.5)
    grown = rss_bytes(hub.process.pid) - quiet
    print(f"sent {sent} MiB to the echo without reading; the hub's RSS grew {grown / 1e6:.1f} MB")
    assert sent < 64, "the echo kept reading although nothing was taken off its socket"
    assert grown < 24e6
    echo.close()
    assert_alive(hub)


# Item 9: web pages and publishers.

def test_a_web_page_cannot_publish_and_dns_rebinding_is_not_the_same_origin(start_hub):
    hub = start_hub("--feed", "ingest", "--allowed-origin", "https://desk.example.com")
    port = hub.port
    # A page on any origin, even the hub's own address, is no publisher; a program (no Origin) is.
    assert raw_handshake_status(port, "/ingest", f"Host: 127.0.0.1:{port}\r\nOrigin: http://127.0.0.1:{port}\r\n") == 403
    assert raw_handshake_status(port, "/ingest", "Host: x\r\nOrigin: https://evil.example.net\r\n") == 403
    assert raw_handshake_status(port, "/ingest", "Host: x\r\n") == 101
    # The attacker's name resolves to the hub: its Host and Origin agree, and still it is refused.
    assert raw_handshake_status(port, "/ws", f"Host: rebind.example.net:{port}\r\nOrigin: http://rebind.example.net:{port}\r\n") == 403
    assert raw_handshake_status(port, "/ws", f"Host: 127.0.0.1:{port}\r\nOrigin: http://127.0.0.1:{port}\r\n") == 101
    assert raw_handshake_status(port, "/ws", f"Host: 127.0.0.1:{port}\r\nOrigin: https://127.0.0.1:{port}\r\n") == 403
    assert_alive(hub)


# Item 10: plain HTTP counts in the limits; a trusted proxy's clients are counted one by one.

def http_status(port: int, source: str, headers: str = "") -> tuple[int, socket.socket]:
    """The status of a keep-alive GET /healthz from `source`; the socket stays open."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(source, 0))
    sock.sendall(f"GET /healthz HTTP/1.1\r\nHost: x\r\n{headers}\r\n".encode())
    head = sock.recv(4096)
    return int(head.split(b" ")[1]) if head else 0, sock


def test_plain_http_connections_count_in_the_per_client_limit(start_hub):
    hub = start_hub("--symbols", "5", "--max-connections-per-ip", "3")
    held = []
    for _ in range(3):
        status, sock = http_status(hub.port, "127.0.0.21")
        assert status == 200
        held.append(sock)
    status, sock = http_status(hub.port, "127.0.0.21")
    assert status == 429
    held.append(sock)
    assert http_status(hub.port, "127.0.0.22")[0] == 200, "another client is not affected"
    for sock in held:
        sock.close()
    assert_alive(hub)


def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_limit(start_hub):
    hub = start_hub("--symbols", "5", "--max-connections-per-ip", "1", "--trusted-proxy", "127.0.0.30/31")
    held = []
    for client, expected in (("10.1.1.1", 200), ("10.1.1.2", 200), ("10.1.1.1", 429)):
        status, sock = http_status(hub.port, "127.0.0.30", f"X-Forwarded-For: 198.51.100.7, {client}\r\n")
        assert status == expected, client
        held.append(sock)
    # A forged entry left of the proxy's own is the client's to write: only the rightmost counts.
    status, sock = http_status(hub.port, "127.0.0.31", "X-Forwarded-For: 10.9.9.9, 10.1.1.2\r\n")
    assert status == 429
    held.append(sock)
    # A peer that is not a trusted proxy is counted as itself, whatever it forwards.
    status, sock = http_status(hub.port, "127.0.0.32", "X-Forwarded-For: 10.7.7.7\r\n")
    assert status == 200
    held.append(sock)
    assert http_status(hub.port, "127.0.0.32", "X-Forwarded-For: 10.7.7.8\r\n")[0] == 429
    for sock in held:
        sock.close()
    assert_alive(hub)
