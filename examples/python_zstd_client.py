#!/usr/bin/env python3
"""TickerHub subscriber using the `tickerhub.v1.zstd` subprotocol: every server message is a binary
frame holding one zstd frame of the usual v1 JSON, compressed with the hub's shared dictionary.

    pip install websockets zstandard
    python3 examples/python_zstd_client.py --url ws://127.0.0.1:8080/ws --symbols AAPL,MSFT --count 20

The dictionary id is in every zstd frame header (and in `welcome`); the dictionary itself is served
at GET /v1/zstd/dictionary/{id}. Requests stay JSON text.
"""
import argparse
import asyncio
import json
import urllib.request
from urllib.parse import urlsplit

import websockets
import zstandard


async def run(url: str, symbols: list[str], count: int) -> int:
    async with websockets.connect(url, subprotocols=["tickerhub.v1.zstd"], compression=None) as ws:
        if ws.subprotocol != "tickerhub.v1.zstd":
            print("the hub does not offer zstd (--zstd off?)")
            return 1
        first = await ws.recv()
        # Fetch the dictionary named in the first frame's header, then decode everything with it.
        dictionary_id = zstandard.get_frame_parameters(first).dict_id
        origin = urlsplit(url)
        with urllib.request.urlopen(f"http://{origin.netloc}/v1/zstd/dictionary/{dictionary_id}") as response:
            dictionary = zstandard.ZstdCompressionDict(response.read())
        decompressor = zstandard.ZstdDecompressor(dict_data=dictionary)
        print(json.loads(decompressor.decompress(first)))  # welcome
        await ws.send(json.dumps({"op": "subscribe", "id": 1, "symbols": symbols}))
        updates, wire, plain = 0, 0, 0
        while updates < count:
            frame = await ws.recv()
            text = decompressor.decompress(frame)
            message = json.loads(text)
            if message["type"] in ("quote", "trade", "conflated"):
                updates += 1
                wire += len(frame)
                plain += len(text)
            print(message)
        print(f"{updates} updates: {wire} bytes compressed, {plain} bytes of JSON")
        return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="ws://127.0.0.1:8080/ws")
    parser.add_argument("--symbols", default="AAPL,MSFT")
    parser.add_argument("--count", type=int, default=20)
    args = parser.parse_args()
    raise SystemExit(asyncio.run(run(args.url, args.symbols.split(","), args.count)))
