"""The two transports that carry subscribers after their handshake (`--transport nio|owned`): what
differs between them is the path from a ready frame to the socket, so the promises at their seam are
checked on both. The rest of the suite runs on either (HUB_TEST_TRANSPORT=nio|owned; `make test`
runs it on the default, owned, and the subscriber tests again on NIO)."""
import asyncio
import base64
import json
import os
import socket
import struct
import subprocess
import time

import pytest
import websockets

from conftest import BIN_DIR

TRANSPORTS = ["nio", "owned"]


def masked_frame(opcode: int, payload: bytes) -> bytes:
    """A client frame (RFC 6455 §5.2): final, masked, with a short or 16-bit length."""
    mask = os.urandom(4)
    header = bytes([0x80 | opcode])
    if len(payload) < 126:
        header += bytes([0x80 | len(payload)])
    else:
        header += bytes([0x80 | 126]) + struct.pack("!H", len(payload))
    return header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def read_frame(sock: socket.socket, buffered: bytearray) -> tuple[int, bytes]:
    """The next server frame (unmasked): its opcode and payload."""
    def need(count):
        while len(buffered) < count:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            buffered.extend(chunk)
    need(2)
    opcode, length = buffered[0] & 0x0F, buffered[1] & 0x7F
    start = 2
    if length == 126:
        need(4)
        length, start = struct.unpack("!H", buffered[2:4])[0], 4
    elif length == 127:
        need(10)
        length, start = struct.unpack("!Q", buffered[2:10])[0], 10
    need(start + length)
    payload = bytes(buffered[start:start + length])
    del buffered[:start + length]
    return opcode, payload


def upgrade_request(port: int) -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    return (f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode()


def read_upgrade(sock: socket.socket) -> bytearray:
    """Reads up to the end of the 101's head; returns what came after it."""
    received = bytearray()
    while b"\r\n\r\n" not in received:
        chunk = sock.recv(65536)
        assert chunk, "closed during the handshake"
        received.extend(chunk)
    head, _, rest = bytes(received).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101"), head
    return bytearray(rest)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_frames_sent_right_behind_the_upgrade_request_are_answered(start_hub, transport):
    # A client need not wait for the 101: its first frames may share a segment with the request.
    # The hub has read them with the request, before the subscriber's session exists; on the owned
    # transport they must come along with the socket.
    hub = start_hub("--symbols", "5", "--transport", transport)
    with socket.create_connection(("127.0.0.1", hub.port), timeout=10) as sock:
        subscribe = json.dumps({"op": "subscribe", "symbols": ["AAPL"], "id": 7}).encode()
        sock.sendall(upgrade_request(hub.port) + masked_frame(0x1, subscribe) + masked_frame(0x9, b"hello"))
        buffered = read_upgrade(sock)
        seen = {}
        deadline = time.time() + 10
        while time.time() < deadline and not ("ack" in seen and "pong" in seen):
            opcode, payload = read_frame(sock, buffered)
            if opcode == 0xA:
                seen["pong"] = payload
            elif opcode == 0x1:
                message = json.loads(payload)
                seen.setdefault(message["type"], message)
        assert seen["welcome"]["protocol"] == "tickerhub.v1"
        assert seen["ack"]["id"] == 7 and seen["ack"]["symbols"] == ["AAPL"]
        assert seen["pong"] == b"hello"


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
