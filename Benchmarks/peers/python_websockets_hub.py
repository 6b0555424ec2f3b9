#!/usr/bin/env python3
"""A Python `websockets` hub speaking the subset of tickerhub.v1 that `feedsim swarm` uses.

Written the way the websockets docs recommend for fan-out: one asyncio server, a set of
connections per symbol, and `websockets.broadcast()` once per tick, which writes the same
message to every subscriber without awaiting and skips connections that are not open. The market
is the tick script every server of a comparison replays (`feedsim ticks`, see Benchmarks/e2e/run.py):
the same symbols, prices and messages as tickerhub's own simulator, RATE ticks/s generated every
millisecond, each stamped with the time it was due (so a fan-out that falls behind shows as latency).

    .venv/bin/python Benchmarks/peers/python_websockets_hub.py --port 18600 --rate 100 --ticks ticks.txt

GET / (plain HTTP on the same port) answers {"deliveries": n, "drops": 0}.
"""
import argparse
import asyncio
import http
import json
import time

from websockets.asyncio.server import broadcast, serve
from websockets.http11 import Response
from websockets.datastructures import Headers


def dumps(message: dict) -> str:
    # No spaces, keys in protocol order: what every tickerhub.v1 client expects ("type" first).
    return json.dumps(message, separators=(",", ":"))


class Market:
    """The tick script: "symbols A B ...", one opening quote per symbol, then "<type> <index> <fields>"
    per tick, replayed from the start when it runs out."""

    def __init__(self, path: str):
        with open(path) as script:
            lines = script.read().splitlines()
        self.names = lines[0].split(" ")[1:]
        self.index = {name: i for i, name in enumerate(self.names)}
        self.latest_quote = [line.split(" ", 2)[2] for line in lines[1:1 + len(self.names)]]
        self.ticks = [(kind, int(index), fields) for kind, index, fields
                      in (line.split(" ", 2) for line in lines[1 + len(self.names):])]
        self.seq = [1] * len(self.names)
        self.last_ts = [0] * len(self.names)
        self.generated = 0

    def next(self, ts: int) -> tuple[int, str]:
        """The next tick as (symbol index, message), stamped `ts`."""
        kind, i, fields = self.ticks[self.generated % len(self.ticks)]
        self.generated += 1
        self.seq[i] += 1
        self.last_ts[i] = ts
        if kind == "quote":
            self.latest_quote[i] = fields
        return i, self.message(kind, i, ts, fields)

    def message(self, kind: str, i: int, ts: int, fields: str) -> str:
        return f'{{"type":"{kind}","symbol":"{self.names[i]}","seq":{self.seq[i]},"ts":{ts},{fields}}}'

    def snapshot(self, i: int) -> str:
        return self.message("snapshot", i, self.last_ts[i] or time.time_ns(), self.latest_quote[i])


class Hub:
    def __init__(self, market: Market):
        self.market = market
        self.subscribers = [set() for _ in market.names]
        self.deliveries = 0

    async def session(self, ws):
        mine = []
        await ws.send(dumps({"type": "welcome", "protocol": "tickerhub.v1", "heartbeatMs": 1000}))
        try:
            async for text in ws:
                request = json.loads(text)
                if request.get("op") == "list":
                    await ws.send(dumps({"type": "symbols", "id": request.get("id"), "symbols": self.market.names}))
                elif request.get("op") == "subscribe":
                    symbols = request.get("symbols", [])
                    await ws.send(dumps({"type": "ack", "id": request.get("id"), "op": "subscribe", "symbols": symbols}))
                    for name in symbols:
                        i = self.market.index.get(name)
                        if i is None:
                            continue
                        # Snapshot and registration happen with no await between them, so no tick
                        # can fall in between: the next update is snapshot seq + 1.
                        self.subscribers[i].add(ws)
                        mine.append(i)
                        await ws.send(self.market.snapshot(i))
        finally:
            for i in mine:
                self.subscribers[i].discard(ws)

    async def publish(self, rate: float):
        # Tick n is due at start + n / rate and carries that time as its ts: when fan-out keeps the
        # one thread busy, ticks fall behind schedule, and the lag shows as latency.
        start, generated = time.time_ns(), 0
        while True:
            await asyncio.sleep(0.001)
            now = time.time_ns()
            while start + (generated + 1) * 1_000_000_000 / rate <= now:
                generated += 1
                due = start + int(generated * 1_000_000_000 / rate)
                i, message = self.market.next(due)
                if self.subscribers[i]:
                    broadcast(self.subscribers[i], message)
                    self.deliveries += len(self.subscribers[i])

    def http_stats(self, connection, request):
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return None
        body = json.dumps({"deliveries": self.deliveries, "drops": 0}).encode()
        return Response(http.HTTPStatus.OK.value, "OK",
                        Headers([("Content-Type", "application/json"), ("Content-Length", str(len(body)))]), body)


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=18600)
    parser.add_argument("--rate", type=float, default=100)
    parser.add_argument("--ticks", required=True, help="the tick script (feedsim ticks --out FILE)")
    args = parser.parse_args()
    hub = Hub(Market(args.ticks))
    # compression=None: the swarm does not offer permessage-deflate, and neither side should pay for it.
    async with serve(hub.session, "127.0.0.1", args.port, compression=None, process_request=hub.http_stats,
                     max_queue=64, backlog=4096):
        print(f"python-websockets hub on {args.port}, {len(hub.market.names)} symbols, {args.rate} ticks/s", flush=True)
        await hub.publish(args.rate)


if __name__ == "__main__":
    asyncio.run(main())
