"""What the hub refuses at its door when it is put on a network (SECURITY.md): other web pages'
WebSocket handshakes, and requests that are never finished."""
import asyncio
import json
import urllib.error
import urllib.request

import pytest
import websockets


def handshake_status(url: str, origin: str | None) -> int:
    async def run():
        try:
            async with websockets.connect(url, origin=origin, compression=None) as ws:
                assert json.loads(await ws.recv())["type"] == "welcome"
                return 101
        except websockets.InvalidStatus as refused:
            return refused.response.status_code
    return asyncio.run(run())


def test_an_origin_allow_list_refuses_other_pages_with_403(start_hub):
    hub = start_hub("--symbols", "20", "--allowed-origin", "https://desk.example.com",
                    "--allowed-origin", "http://localhost:3000")
    assert handshake_status(hub.ws_url, "https://desk.example.com") == 101
    assert handshake_status(hub.ws_url, "http://localhost:3000") == 101
    assert handshake_status(hub.ws_url, None) == 101, "native clients send no Origin"
    assert handshake_status(hub.ws_url, f"http://127.0.0.1:{hub.port}") == 101, "the hub's own pages"
    assert handshake_status(hub.ws_url, "https://evil.example.net") == 403
    # The refusal says why, in the hub's error format.
    request = urllib.request.Request(hub.http + "/ws", headers={"Origin": "https://evil.example.net"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=5)
    assert refused.value.code == 403
    assert json.loads(refused.value.read())["code"] == "origin_not_allowed"


def test_without_an_allow_list_any_origin_may_connect(hub):
    assert handshake_status(hub.ws_url, "https://anywhere.example.org") == 101


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
