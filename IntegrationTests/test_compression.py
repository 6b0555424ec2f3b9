"""permessage-deflate (RFC 7692) against real clients: Python `websockets` with its default offer and
without compression, and a raw client that checks the frames themselves (RSV1, shared frames,
compressed requests, zip bombs, RSV1 without negotiation)."""
import asyncio
import json
import time

import websockets

from conftest import SeqChain
from rawws import RawWebSocket, deflate_message, text_frame


def test_websockets_default_offer_gets_shared_deflate_and_gapless_updates(hub):
    async def run():
        clients = []
        for _ in range(3):
            ws = await websockets.connect(hub.ws_url)  # websockets offers permessage-deflate by default
            assert ws.response.headers["Sec-WebSocket-Extensions"] == \
                "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
            assert json.loads(await ws.recv())["type"] == "welcome"
            # websockets compresses this request too: the hub inflates it.
            await ws.send(json.dumps({"op": "subscribe", "id": 1, "symbols": ["AAPL", "MSFT"]}))
            assert json.loads(await ws.recv())["type"] == "ack"
            clients.append(ws)
        before = hub.get_json("/stats")
        for ws in clients:
            chain = SeqChain()
            updates = 0
            while updates < 30:
                m = json.loads(await asyncio.wait_for(ws.recv(), 5))
                if chain.see(m):
                    updates += 1
        after = hub.get_json("/stats")
        for ws in clients:
            await ws.close()
        return before, after

    before, after = asyncio.run(run())
    # Compressed once per message, not once per subscriber: three deflate clients, at most one frame
    # per message built for the ring (ticks, and the simulated feed's book updates and bars).
    deflated = after["framesDeflated"] - before["framesDeflated"]
    encoded = after["framesEncoded"] - before["framesEncoded"]
    assert 0 < deflated <= encoded


def test_compression_none_gets_plain_frames(hub):
    async def run():
        async with websockets.connect(hub.ws_url, compression=None) as ws:
            assert "Sec-WebSocket-Extensions" not in ws.response.headers
            assert json.loads(await ws.recv())["type"] == "welcome"
    asyncio.run(run())
    ws = RawWebSocket(hub.port)
    assert "sec-websocket-extensions" not in ws.response_headers
    assert ws.recv_json()["type"] == "welcome" and not ws.last_rsv1
    ws.close()


def test_frames_are_rsv1_deflate_and_compressed_requests_are_understood(hub):
    ws = RawWebSocket(hub.port, extensions="permessage-deflate; client_max_window_bits")
    assert ws.response_headers["sec-websocket-extensions"].startswith("permessage-deflate; server_no_context_takeover")
    assert ws.recv_json()["type"] == "welcome" and ws.last_rsv1
    request = json.dumps({"op": "subscribe", "id": 7, "symbols": ["AAPL"]}).encode()
    ws.sock.sendall(text_frame(deflate_message(request), rsv1=True))
    assert ws.recv_json() == {"type": "ack", "id": 7, "op": "subscribe", "symbols": ["AAPL"]}
    assert ws.recv_json()["type"] == "snapshot"
    update = ws.recv_json()
    assert update["type"] in ("quote", "trade") and ws.last_rsv1
    # An uncompressed request is fine too (RFC 7692 lets each message choose).
    ws.send_json({"op": "ping", "id": 8})
    while (m := ws.recv_json())["type"] != "pong":
        pass
    assert m["id"] == 8
    ws.close()


def test_a_compressed_zip_bomb_is_closed_with_1009(hub):
    ws = RawWebSocket(hub.port, extensions="permessage-deflate")
    ws.recv_json()
    bomb = deflate_message(b" " * 5_000_000)  # ~5 KB on the wire, 5 MB inflated; the limit is 64 KiB
    assert len(bomb) < 10_000
    ws.sock.sendall(text_frame(bomb, rsv1=True))
    while ws.recv_json() is not None:
        pass
    assert ws.close_code == 1009
    ws.close()


def test_rsv1_without_negotiation_is_a_protocol_error(hub):
    ws = RawWebSocket(hub.port)
    ws.recv_json()
    ws.sock.sendall(text_frame(deflate_message(b'{"op":"ping"}'), rsv1=True))
    while ws.recv_json() is not None:
        pass
    assert ws.close_code == 1002
    ws.close()


def test_deflate_off_and_dedicated_modes(start_hub):
    off = start_hub("--symbols", "20", "--rate", "200", "--deflate", "off")
    ws = RawWebSocket(off.port, extensions="permessage-deflate")
    assert "sec-websocket-extensions" not in ws.response_headers
    ws.close()

    dedicated = start_hub("--symbols", "20", "--rate", "500", "--deflate", "dedicated")
    ws = RawWebSocket(dedicated.port, extensions="permessage-deflate; client_max_window_bits")
    assert ws.response_headers["sec-websocket-extensions"] == \
        "permessage-deflate; server_max_window_bits=11; client_no_context_takeover"
    ws.recv_json()
    ws.send_json({"op": "subscribe", "id": 1, "symbols": ["AAPL", "MSFT", "NVDA"]})
    sizes, chain = [], SeqChain()
    started = time.time()
    while len(sizes) < 200 and time.time() - started < 20:
        opcode, payload = ws.recv_frame()
        m = json.loads(ws.inflater.decompress(payload + b"\x00\x00\xff\xff") if ws.last_rsv1 else payload)
        if chain.see(m):  # in order, every one: context takeover decodes only in order
            sizes.append(len(payload))
    assert len(sizes) == 200
    # With the window carried over, similar ticks shrink well below the ~130-byte plain JSON.
    assert sum(sizes[-100:]) / 100 < 70, sizes[-20:]
    ws.close()


def test_zstd_subprotocol_with_the_shared_dictionary(hub):
    """The documented zstd client: binary frames, one zstd frame each, with the dictionary id in the
    frame header; the dictionary is fetched once over HTTP."""
    import urllib.request

    import zstandard

    async def run():
        clients = []
        for _ in range(2):
            ws = await websockets.connect(hub.ws_url, subprotocols=["tickerhub.v1.zstd"], compression=None)
            assert ws.subprotocol == "tickerhub.v1.zstd"
            first = await ws.recv()
            assert isinstance(first, bytes)  # binary frames
            dictionary_id = zstandard.get_frame_parameters(first).dict_id
            with urllib.request.urlopen(f"{hub.http}/v1/zstd/dictionary/{dictionary_id}") as response:
                assert response.headers["Content-Type"] == "application/octet-stream"
                dictionary = zstandard.ZstdCompressionDict(response.read())
            assert dictionary.dict_id() == dictionary_id
            decompressor = zstandard.ZstdDecompressor(dict_data=dictionary)
            welcome = json.loads(decompressor.decompress(first))
            assert welcome["type"] == "welcome" and welcome["zstdDictionary"] == dictionary_id
            await ws.send(json.dumps({"op": "subscribe", "id": 1, "symbols": ["AAPL", "MSFT"]}))  # requests stay JSON text
            clients.append((ws, decompressor))
        before = hub.get_json("/stats")
        sizes = []
        for ws, decompressor in clients:
            chain, updates = SeqChain(), 0
            while updates < 30:
                frame = await asyncio.wait_for(ws.recv(), 5)
                m = json.loads(decompressor.decompress(frame))
                if chain.see(m):
                    updates += 1
                    sizes.append(len(frame))
        after = hub.get_json("/stats")
        for ws, _ in clients:
            await ws.close()
        return before, after, sizes

    before, after, sizes = asyncio.run(run())
    # Once per message built for the ring for both clients, and far smaller than the ~124-byte JSON.
    assert 0 < after["framesZstd"] - before["framesZstd"] <= after["framesEncoded"] - before["framesEncoded"]
    assert sum(sizes) / len(sizes) < 70, sizes
    status, body = hub.get("/v1/zstd/dictionary/12345")
    assert status == 404 and "unknown_dictionary" in body


def test_the_documented_zstd_example_works(hub):
    import subprocess
    import sys
    from conftest import ROOT
    result = subprocess.run([sys.executable, str(ROOT / "examples" / "python_zstd_client.py"), "--url", hub.ws_url,
                             "--symbols", "AAPL,MSFT", "--count", "10"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr + result.stdout
    assert "'type': 'welcome'" in result.stdout and "10 updates:" in result.stdout
