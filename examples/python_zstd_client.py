#!/usr/bin/env python3
"""TickerHub subscriber using the `tickerhub.v1.zstd` subprotocol, on the Python client: every server
message is a binary frame holding one zstd frame of the usual v1 JSON, compressed with the hub's
shared dictionary, which the client fetches once from GET /v1/zstd/dictionary/{id}.

    pip install "./clients/python[zstd]"
    python3 examples/python_zstd_client.py --url ws://127.0.0.1:8080/ws --symbols AAPL,MSFT --count 20
"""
import argparse
import asyncio

from tickerhub_client import TickerHubClient


async def run(url: str, symbols: list[str], count: int) -> int:
    async with TickerHubClient(url, zstd=True) as hub:
        if not hub.zstd_active:
            print("the hub does not offer zstd (--zstd off?)")
            return 1
        print(hub.welcome)
        await hub.subscribe(symbols)
        updates, wire, plain = 0, 0, 0
        async for update in hub:
            print(update.data)
            if update.type != "snapshot":
                updates += 1
            if updates >= count:
                break
        wire, plain = hub.bytes_received, hub.json_bytes_received
        print(f"{updates} updates: {wire} bytes compressed, {plain} bytes of JSON")
        return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="ws://127.0.0.1:8080/ws")
    parser.add_argument("--symbols", default="AAPL,MSFT")
    parser.add_argument("--count", type=int, default=20)
    args = parser.parse_args()
    raise SystemExit(asyncio.run(run(args.url, args.symbols.split(","), args.count)))
