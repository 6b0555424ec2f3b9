"""The two transports that carry subscribers after their handshake (`--transport nio|owned`): what
differs between them is the path from a ready frame to the socket, so the promises at their seam are
checked on both. The rest of the suite runs on either (HUB_TEST_TRANSPORT=nio|owned; `make test`
runs it on the default, owned, and the subscriber tests again on NIO)."""
import asyncio
import json
import resource
import socket
import struct
import subprocess
import threading
import time

import pytest
import websockets

from conftest import BIN_DIR, ROOT
from rawws import RawWebSocket, text_frame
from test_hostile_inputs import rss_bytes

TRANSPORTS = ["nio", "owned"]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_frames_sent_right_behind_the_upgrade_request_are_answered(start_hub, transport):
    # A client need not wait for the 101: its first frames may share a segment with the request.
    # The hub has read them with the request, before the subscriber's session exists; on the owned
    # transport they must come along with the socket. (They once crashed the hub on both.)
    hub = start_hub("--symbols", "5", "--transport", transport)
    subscribe = json.dumps({"op": "subscribe", "symbols": ["AAPL"], "id": 7}).encode()
    ws = RawWebSocket(hub.port, first_frames=text_frame(subscribe) + text_frame(b"hello", opcode=0x9))
    seen = {}
    deadline = time.time() + 10
    while time.time() < deadline and not ("ack" in seen and "pong" in seen):
        opcode, payload = ws.recv_frame()
        if opcode == 0xA:
            seen["pong"] = payload
        elif opcode == 0x1:
            message = json.loads(payload)
            seen.setdefault(message["type"], message)
    ws.close()
    assert seen["welcome"]["protocol"] == "tickerhub.v1"
    assert seen["ack"]["id"] == 7 and seen["ack"]["symbols"] == ["AAPL"]
    assert seen["pong"] == b"hello"


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_after_its_close_frame_the_hub_sends_nothing_and_ends_the_connection(start_hub, transport):
    # Updates are flowing when the client sends Close: the hub answers with its Close (RFC 6455
    # §5.5.1), writes nothing after it, and the TCP connection ends.
    hub = start_hub("--symbols", "20", "--rate", "2000", "--transport", transport)
    ws = RawWebSocket(hub.port)
    assert ws.recv_json()["type"] == "welcome"
    ws.send_json({"op": "subscribe", "symbols": ["AAPL", "MSFT", "NVDA", "AMZN", "GOOGL"], "id": 1})
    updates = 0
    while updates < 50:
        message = ws.recv_json()
        updates += message["type"] in ("quote", "trade")
    ws.sock.sendall(text_frame(struct.pack("!H", 1000) + b"bye", opcode=0x8))
    while (message := ws.recv_json()) is not None:
        assert message["type"] in ("quote", "trade", "snapshot", "conflated"), message
    assert ws.close_code == 1000
    assert ws.pending == b"", "bytes after the Close frame"
    assert ws.sock.recv(65536) == b"", "the connection did not end after the Close"
    ws.close()


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_reset_in_the_middle_of_a_backlog_harms_no_one(start_hub, transport):
    # A client with a tiny receive window stops reading, so the hub holds a backlog for it and its
    # socket is full mid-frame; then it resets the connection (SO_LINGER 0). The hub forgets it, and
    # a client reading alongside never stops getting updates.
    hub = start_hub("--symbols", "20", "--rate", "4000", "--transport", transport)
    symbols = ["AAPL", "MSFT", "NVDA", "AMZN", "GOOGL"]
    healthy = RawWebSocket(hub.port)
    assert healthy.recv_json()["type"] == "welcome"
    healthy.send_json({"op": "subscribe", "symbols": symbols, "id": 1})
    stalled = RawWebSocket(hub.port, receive_buffer=2048)
    stalled.send_json({"op": "subscribe", "symbols": symbols, "id": 1})
    received = []
    stop = threading.Event()

    def read_healthy():
        while not stop.is_set():
            message = healthy.recv_json()
            assert message is not None, "the healthy client was closed"
            received.append(time.time())
    reader = threading.Thread(target=read_healthy, daemon=True)
    reader.start()
    deadline = time.time() + 10
    while hub.get_json("/stats")["backloggedConnections"] < 1:
        assert time.time() < deadline, "the stalled client never filled its backlog"
        time.sleep(0.1)
    stalled.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    stalled.close()  # RST, with the hub's frames unread
    reset_at = time.time()
    deadline = time.time() + 10
    while hub.get_json("/stats")["connections"] != 1:
        assert time.time() < deadline, hub.get_json("/stats")
        time.sleep(0.1)
    time.sleep(1.0)
    stop.set()
    reader.join(timeout=10)
    assert any(at > reset_at + 0.5 for at in received), "the healthy client stopped getting updates"
    assert hub.get_json("/stats")["backloggedConnections"] == 0
    assert hub.get("/healthz")[0] == 200
    healthy.close()


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_subscriber_keeps_its_place_in_the_limits_until_it_closes(start_hub, transport):
    # On the owned transport the NIO channel that took the handshake closes at the handover; the
    # subscriber's place in --max-connections-per-ip must go with the connection, not with the channel.
    hub = start_hub("--symbols", "5", "--max-connections-per-ip", "2", "--transport", transport)

    async def run():
        first = await websockets.connect(hub.ws_url, compression=None)
        second = await websockets.connect(hub.ws_url, compression=None)
        for ws in (first, second):
            assert json.loads(await ws.recv())["type"] == "welcome"
        await asyncio.sleep(0.3)  # past the handover
        with pytest.raises(websockets.InvalidStatus) as refused:
            await websockets.connect(hub.ws_url, compression=None)
        assert refused.value.response.status_code == 429
        await first.close()
        # The place is given back when the connection ends.
        for _ in range(50):
            try:
                third = await websockets.connect(hub.ws_url, compression=None)
                break
            except websockets.InvalidStatus:
                await asyncio.sleep(0.1)
        else:
            raise AssertionError("the closed subscriber's place was never given back")
        assert json.loads(await third.recv())["type"] == "welcome"
        await third.close()
        await second.close()
    asyncio.run(run())


def test_the_owned_transport_refuses_what_it_does_not_serve():
    # Fails closed, with the reason, rather than serving TLS or NATS some other way than asked.
    for extra, word in ((["--tls-cert", "/nonexistent.pem", "--tls-key", "/nonexistent.key"], "TLS"),
                        (["--feed", "nats://127.0.0.1:4222"], "nats")):
        result = subprocess.run([str(BIN_DIR / "tickerhub"), "--transport", "owned", "--port", "0", *extra],
                                capture_output=True, text=True, timeout=30)
        assert result.returncode != 0
        assert "--transport owned" in result.stderr and word in result.stderr, result.stderr
    result = subprocess.run([str(BIN_DIR / "tickerhub"), "--transport", "epoll", "--port", "0"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode != 0 and "--transport must be auto, owned or nio" in result.stderr, result.stderr


def test_on_the_owned_transport_a_hub_shuts_down_with_1001_to_its_subscribers(start_hub):
    hub = start_hub("--symbols", "5", "--transport", "owned")

    async def run():
        clients = [await websockets.connect(hub.ws_url, compression=None) for _ in range(20)]
        for ws in clients:
            assert json.loads(await ws.recv())["type"] == "welcome"
        await asyncio.sleep(0.3)
        hub.process.send_signal(15)
        codes = []
        for ws in clients:
            try:
                while True:
                    await asyncio.wait_for(ws.recv(), timeout=10)
            except websockets.ConnectionClosed as closed:
                codes.append(closed.rcvd.code if closed.rcvd else None)
        assert codes == [1001] * 20, codes
    asyncio.run(run())
    assert hub.process.wait(timeout=15) == 0


@pytest.mark.timeout(180)
def test_fifteen_thousand_subscribers_ride_the_owned_transport(start_hub, tmp_path):
    # Issue 25's scale: 15,000 subscribers, each on 10 of 500 symbols, connected by the neutral C
    # swarm (`wsload`, a process of its own: 20,000 descriptors per process is this machine's limit).
    # Every one is upgraded, handed over and served: nobody refused, failed or closed, every client's
    # updates gapless at this light rate, and the hub's memory per connection that of the owned
    # transport (2.3 KiB measured; NIO's channel and pipeline alone take ~1.9 KiB more), with room.
    clients = 15000
    wsload = ROOT / ".build" / "wsload"
    built = subprocess.run(["make", "-s", ".build/wsload"], cwd=ROOT, capture_output=True, text=True)
    assert built.returncode == 0 and wsload.exists(), built.stderr
    hub = start_hub("--symbols", "500", "--rate", "10", "--event-loops", "1", open_files=(clients + 1000, clients + 1000))
    idle = rss_bytes(hub.process.pid)
    summary = tmp_path / "swarm.json"
    swarm = subprocess.run([str(wsload), "swarm", "--url", hub.ws_url, "--clients", str(clients), "--concurrency", "500",
                            "--subscribe", "10", "--warmup", "30", "--duration", "5", "--connect-timeout", "60",
                            "--server-pid", str(hub.process.pid), "--json", str(summary), "--quiet"],
                           capture_output=True, text=True, timeout=150,
                           preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (clients + 1000, clients + 1000)))
    assert swarm.returncode == 0, swarm.stderr
    result = json.loads(summary.read_text())
    per_connection = (result["serverRssKiB"] * 1024 - idle) / clients
    print(f"15,000 on the owned transport: upgraded in {result['rampSeconds']} s, {result['updates']} updates, "
          f"{per_connection / 1024:.2f} KiB per connection")
    assert result["connected"] == clients and result["subscribed"] == clients and result["openAtEnd"] == clients
    assert result["failed"] == 0 and result["closedByServer"] == 0 and result["refusedUpgrades"] == 0
    assert result["updates"] > 0 and result["gapUpdates"] == 0 and result["duplicates"] == 0
    assert per_connection < 4096, f"{per_connection:.0f} bytes per connection"
    assert "transport=owned" in hub.log_text()
