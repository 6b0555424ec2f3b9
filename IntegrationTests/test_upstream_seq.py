"""A publisher that numbers its own updates, feeding two hubs (`--feed ingest`) the same batches:
subscribers on either hub see the same (symbol, seq, values), the publisher's gap reaches them as the
same jump, and a repeated seq is dropped; both hubs count them. (The first step of hub nodes fed
alike, which NATS will carry.)"""
import asyncio
import json
import struct
import time

import websockets

START = 1000   # the publisher has been numbering for a while: the hubs join mid-stream


def batch(records):
    """The binary tick encoding (docs/PROTOCOL.md): trades of AAPL with the given seqs and prices."""
    out = struct.pack("<HBBH", 0x4B54, 1, 0, len(records))
    for seq, cents in records:
        out += bytes([2, 4]) + b"AAPL" + struct.pack("<QQ", seq, time.time_ns()) + bytes([2]) + struct.pack("<qq", cents, 100)
    return out


async def subscriber(url):
    ws = await websockets.connect(url, compression=None)
    assert json.loads(await ws.recv())["type"] == "welcome"
    await ws.send(json.dumps({"op": "subscribe", "id": 1, "symbols": ["AAPL"]}))
    return ws


async def updates_of(ws, count):
    got = []
    while len(got) < count:
        message = json.loads(await asyncio.wait_for(ws.recv(), 5))
        if message["type"] in ("snapshot", "trade"):
            got.append((message["type"], message["seq"], message.get("price") or message.get("last")))
    return got


def test_two_hubs_fed_the_same_numbered_batches_show_the_same_seqs_gaps_and_values(start_hub):
    hubs = [start_hub("--feed", "ingest"), start_hub("--feed", "ingest")]

    async def run():
        publishers = [await websockets.connect(f"ws://127.0.0.1:{hub.port}/ingest", compression=None) for hub in hubs]
        first = batch([(START, 18900)])
        for publisher in publishers:
            await publisher.send(first)
        await asyncio.sleep(0.3)   # AAPL exists on both hubs before anyone subscribes
        clients = [await subscriber(hub.ws_url) for hub in hubs]
        await asyncio.sleep(0.2)
        # START+1, then START+2 is lost upstream, then START+3, a repeat of START+3, and START+4.
        rest = batch([(START + 1, 18901), (START + 3, 18903), (START + 3, 99999), (START + 4, 18904)])
        for publisher in publishers:
            await publisher.send(rest)
        seen = [await updates_of(ws, 4) for ws in clients]
        for ws in clients + publishers:
            await ws.close()
        return seen

    seen = asyncio.run(run())
    assert seen[0] == seen[1], seen
    assert seen[0] == [("snapshot", START, "189.00"), ("trade", START + 1, "189.01"), ("trade", START + 3, "189.03"),
                       ("trade", START + 4, "189.04")]
    for hub in hubs:
        stats = hub.get_json("/stats")
        assert stats["upstreamGaps"] == 1 and stats["upstreamStale"] == 1 and stats["ticksIn"] == 4, stats
