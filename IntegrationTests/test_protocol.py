"""Protocol tickerhub.v1 against a real hub, with the third-party Python `websockets` client."""
import asyncio
import json
import re
import socket
import base64
import os
import struct

import pytest
import websockets

from conftest import SeqChain, connect
from rawws import RawWebSocket

DECIMAL = re.compile(r"^-?\d+\.\d{4}$")


async def recv_json(ws, timeout=5.0):
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def recv_until(ws, predicate, timeout=5.0):
    """Reads messages until one matches; returns (match, everything read before it)."""
    seen = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        message = await recv_json(ws, max(0.01, deadline - loop.time()))
        if predicate(message):
            return message, seen
        seen.append(message)


def test_welcome_describes_the_protocol(hub):
    async def run():
        ws, welcome = await connect(hub.ws_url)
        assert welcome["protocol"] == "tickerhub.v1"
        assert welcome["heartbeatMs"] == 0, "heartbeats are the client's choice, off unless asked for"
        assert welcome["feed"] == "sim"
        await ws.close()
    asyncio.run(run())


def test_subscribe_gives_ack_then_snapshots_then_gapless_updates(hub):
    async def run():
        ws, _ = await connect(hub.ws_url)
        await ws.send(json.dumps({"op": "subscribe", "id": 1, "symbols": ["AAPL", "MSFT"]}))
        ack = await recv_json(ws)
        assert ack == {"type": "ack", "id": 1, "op": "subscribe", "symbols": ["AAPL", "MSFT"]}
        snapshots = [await recv_json(ws), await recv_json(ws)]
        assert [s["type"] for s in snapshots] == ["snapshot", "snapshot"]
        assert {s["symbol"] for s in snapshots} == {"AAPL", "MSFT"}
        chain = SeqChain({s["symbol"]: s["seq"] for s in snapshots})
        for s in snapshots:
            assert s["seq"] >= 1 and isinstance(s["ts"], int)
            assert DECIMAL.match(s["bid"]) and DECIMAL.match(s["ask"])

        updates = 0
        while updates < 100:
            m = await recv_json(ws)
            if m["type"] == "heartbeat":
                continue
            assert m["type"] in ("quote", "trade"), m
            chain.see(m)
            assert isinstance(m["ts"], int) and m["ts"] > 1_600_000_000 * 10**9
            if m["type"] == "quote":
                assert DECIMAL.match(m["bid"]) and DECIMAL.match(m["ask"])
                assert float(m["bid"]) < float(m["ask"])
                assert m["bidSize"] > 0 and m["askSize"] > 0
            else:
                assert DECIMAL.match(m["price"]) and m["size"] > 0
            updates += 1
        await ws.close()
    asyncio.run(run())


def test_unsubscribe_stops_updates(hub):
    async def run():
        ws, _ = await connect(hub.ws_url)
        await ws.send(json.dumps({"op": "subscribe", "id": 1, "symbols": ["AAPL", "MSFT"]}))
        await recv_until(ws, lambda m: m["type"] == "quote" and m["symbol"] == "AAPL")
        await ws.send(json.dumps({"op": "unsubscribe", "id": 2, "symbols": ["AAPL"]}))
        ack, _ = await recv_until(ws, lambda m: m["type"] == "ack")
        assert ack == {"type": "ack", "id": 2, "op": "unsubscribe", "symbols": ["AAPL"]}
        # After the ack nothing for AAPL may arrive; MSFT keeps flowing.
        msft = 0
        while msft < 20:
            m = await recv_json(ws)
            assert m.get("symbol") != "AAPL", m
            msft += m.get("symbol") == "MSFT"
        await ws.close()
    asyncio.run(run())


def test_list_ping_and_stats(hub):
    async def run():
        ws, _ = await connect(hub.ws_url)
        await ws.send(json.dumps({"op": "list", "id": 3}))
        symbols = await recv_json(ws)
        assert symbols["type"] == "symbols" and symbols["id"] == 3
        assert len(symbols["symbols"]) == 100 and symbols["symbols"][:2] == ["AAPL", "MSFT"]
        await ws.send(json.dumps({"op": "ping", "id": 4}))
        pong = await recv_json(ws)
        assert pong["type"] == "pong" and pong["id"] == 4 and isinstance(pong["ts"], int)
        await ws.send(json.dumps({"op": "stats", "id": 5}))
        stats = await recv_json(ws)
        assert stats["type"] == "stats" and stats["id"] == 5
        assert set(stats["counters"]) >= {"delivered", "dropped", "subscriptions"}
        await ws.close()
    asyncio.run(run())


@pytest.mark.parametrize("request_text,code,request_id", [
    ("{not json", "bad_json", None),
    (json.dumps({"op": "dance", "id": 7}), "unknown_op", 7),
    (json.dumps({"op": "subscribe", "id": 8, "symbols": ["AAPL", "NOPE"]}), "unknown_symbol", 8),
    (json.dumps({"op": "subscribe", "id": 9, "symbols": [f"S{i}" for i in range(1001)]}), "too_many_symbols", 9),
    (json.dumps({"op": "subscribe", "id": 10, "symbols": "AAPL"}), "invalid_request", 10),
], ids=["bad_json", "unknown_op", "unknown_symbol", "too_many_symbols", "invalid_request"])
def test_bad_requests_get_an_error_and_the_connection_stays_up(hub, request_text, code, request_id):
    async def run():
        ws, _ = await connect(hub.ws_url)
        await ws.send(request_text)
        error = await recv_json(ws)
        assert error["type"] == "error" and error["code"] == code and error["id"] == request_id, error
        assert error["message"]
        await ws.send(json.dumps({"op": "ping", "id": 99}))
        pong, _ = await recv_until(ws, lambda m: m["type"] == "pong")
        assert pong["id"] == 99
        await ws.close()
    asyncio.run(run())


def test_binary_frames_get_an_error(hub):
    async def run():
        ws, _ = await connect(hub.ws_url)
        await ws.send(b"\x01\x02")
        error = await recv_json(ws)
        assert error["type"] == "error" and error["code"] == "unsupported_frame"
        await ws.close()
    asyncio.run(run())


def test_an_idle_connection_gets_the_heartbeats_it_asked_for(hub):
    async def run():
        ws, welcome = await connect(hub.ws_url + "?heartbeat=1000")
        assert welcome["heartbeatMs"] == 1000
        loop = asyncio.get_running_loop()
        started = loop.time()
        heartbeat = await recv_json(ws, timeout=3)
        assert heartbeat["type"] == "heartbeat" and isinstance(heartbeat["ts"], int)
        # Sent after 1 to 1.5 intervals of silence (checked twice a second).
        assert 0.9 <= loop.time() - started <= 2.0
        await ws.close()
        # Without asking, an idle connection gets nothing (pings keep it alive instead).
        quiet, _ = await connect(hub.ws_url)
        with pytest.raises(asyncio.TimeoutError):
            await recv_json(quiet, timeout=2.5)
        await quiet.close()
    asyncio.run(run())


def test_a_bad_heartbeat_option_is_refused_with_400(hub):
    async def run():
        for query in ["?heartbeat=10", "?heartbeat=soon", "?heartbeat=99999999"]:
            with pytest.raises(websockets.InvalidStatus) as refused:
                await websockets.connect(hub.ws_url + query)
            assert refused.value.response.status_code == 400
            assert b"heartbeat must be" in refused.value.response.body
    asyncio.run(run())


def test_websocket_ping_is_answered_with_its_own_payload(hub):
    """RFC 6455 5.5.3: the Pong carries the Ping's application data, unchanged."""
    sock = raw_upgrade(hub.port)
    mask = os.urandom(4)
    payload = b"hello \x00\xff ping"
    sock.sendall(bytes([0x89, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
    data, pong = b"", None
    while pong is None:
        chunk = sock.recv(65536)
        assert chunk, "closed before the pong"
        data += chunk
        while len(data) >= 2 and pong is None:
            opcode, length, header = data[0] & 0x0F, data[1] & 0x7F, 2
            if length == 126:
                if len(data) < 4:
                    break
                length, header = int.from_bytes(data[2:4], "big"), 4
            if len(data) < header + length:
                break
            if opcode == 0xA:
                pong = data[header:header + length]
            data = data[header + length:]
    assert pong == payload
    sock.close()


def raw_upgrade(port: int) -> socket.socket:
    """A hand-made handshake, so the test can send frames no polite client would."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    response = b""
    while b"\r\n\r\n" not in response:
        response += sock.recv(4096)
    assert response.startswith(b"HTTP/1.1 101"), response
    return sock


def read_frames_until_close(sock: socket.socket, data: bytes = b""):
    """Returns the close code the server sent, reading past any data frames."""
    while True:
        while len(data) < 2:
            chunk = sock.recv(65536)
            if not chunk:
                return None
            data += chunk
        opcode, length = data[0] & 0x0F, data[1] & 0x7F
        header = 2
        if length == 126:
            header = 4
        elif length == 127:
            header = 10
        while len(data) < header:
            data += sock.recv(65536)
        if length == 126:
            length = struct.unpack("!H", data[2:4])[0]
        elif length == 127:
            length = struct.unpack("!Q", data[2:10])[0]
        while len(data) < header + length:
            chunk = sock.recv(65536)
            if not chunk:
                return None
            data += chunk
        payload, data = data[header:header + length], data[header + length:]
        if opcode == 0x8:
            return struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005


def test_unmasked_client_frame_is_a_protocol_error(hub):
    sock = raw_upgrade(hub.port)
    payload = b'{"op":"ping","id":1}'
    sock.sendall(bytes([0x81, len(payload)]) + payload)  # no mask bit
    assert read_frames_until_close(sock) == 1002
    sock.close()


def test_invalid_utf8_text_is_closed_with_1007(hub):
    sock = raw_upgrade(hub.port)
    payload = b"\xff\xfe"
    mask = os.urandom(4)
    sock.sendall(bytes([0x81, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
    assert read_frames_until_close(sock) == 1007
    sock.close()


def test_graceful_shutdown_says_going_away(start_hub):
    hub = start_hub("--symbols", "10", "--rate", "100")

    async def run():
        ws, _ = await connect(hub.ws_url)
        hub.process.send_signal(2)  # SIGINT, as Ctrl-C would
        with pytest.raises(websockets.ConnectionClosed) as closed:
            while True:
                await asyncio.wait_for(ws.recv(), 10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
    asyncio.run(run())
    hub.process.wait(timeout=15)
    assert hub.process.returncode == 0, hub.log_text()


def test_the_documented_python_example_works(hub):
    import subprocess
    import sys
    from conftest import ROOT
    result = subprocess.run([sys.executable, str(ROOT / "examples" / "python_client.py"), "--url", hub.ws_url,
                             "--symbols", "AAPL,MSFT", "--count", "10"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr + result.stdout
    assert "snapshot AAPL" in result.stdout and "10 updates, 0 missed" in result.stdout


def test_oversized_messages_are_closed_with_1009_in_one_frame_or_in_fragments(hub):
    """One limit (64 KiB) for a single frame and for a fragmented message on /ws: past it, 1009."""
    async def closed_with(message):
        ws, _ = await connect(hub.ws_url)
        await ws.send(message)
        with pytest.raises(websockets.ConnectionClosed) as closed:
            while True:
                await asyncio.wait_for(ws.recv(), 5)
        return closed.value.rcvd.code

    assert asyncio.run(closed_with("x" * (70 * 1024))) == 1009
    assert asyncio.run(closed_with(iter(["y" * (40 * 1024), "y" * (40 * 1024)]))) == 1009


def test_a_huge_frame_is_refused_from_its_header_without_waiting_for_its_payload(hub):
    """A frame header announcing 4 MiB is answered with 1009 before any of the payload is sent: the
    hub does not buffer it first."""
    client = RawWebSocket(hub.port)
    header = bytes([0x81, 0x80 | 127]) + (4 << 20).to_bytes(8, "big") + os.urandom(4)
    client.sock.sendall(header + b"x" * 100)
    while client.recv_json() is not None:  # the welcome, then the close
        pass
    assert client.close_code == 1009
    client.close()


def test_fragmented_request_is_reassembled(hub):
    async def run():
        ws, _ = await connect(hub.ws_url)
        await ws.send(iter(['{"op":"pi', 'ng","id":', '42}']))  # three frames, one message
        pong, _ = await recv_until(ws, lambda m: m["type"] == "pong")
        assert pong["id"] == 42
        await ws.close()
    asyncio.run(run())


def test_a_client_that_ignores_pings_is_closed(start_hub):
    hub = start_hub("--symbols", "10", "--rate", "10", "--ping-interval", "1")
    sock = raw_upgrade(hub.port)  # a raw socket never answers the hub's pings
    sock.settimeout(10)
    started = __import__("time").time()
    assert read_frames_until_close(sock) == 1001
    elapsed = __import__("time").time() - started
    assert 1.5 <= elapsed <= 5, elapsed  # silent 1 s, pinged, unanswered 1 s more
    sock.close()
    assert hub.get_json("/stats")["pingTimeouts"] == 1
