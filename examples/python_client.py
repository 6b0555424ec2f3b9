#!/usr/bin/env python3
"""Minimal TickerHub subscriber (protocol tickerhub.v1), using the `websockets` package.

    pip install websockets
    python3 examples/python_client.py --url ws://127.0.0.1:8080/ws --symbols AAPL,MSFT --count 20

It subscribes, prints the snapshot and then each update, and checks every update's `seq`
against the previous one for its symbol, so a gap (a skipped update) is reported.
"""
import argparse
import asyncio
import json

import websockets


async def main(url: str, symbols: list[str], count: int) -> int:
    async with websockets.connect(url) as ws:
        welcome = json.loads(await ws.recv())
        print(f"connected: {welcome['protocol']}, heartbeat every {welcome['heartbeatMs']} ms")
        await ws.send(json.dumps({"op": "subscribe", "id": 1, "symbols": symbols}))

        last_seq: dict[str, int] = {}
        gaps = updates = 0
        while updates < count:
            message = json.loads(await ws.recv())
            kind = message["type"]
            if kind == "ack":
                print(f"subscribed to {', '.join(message['symbols'])}")
            elif kind == "error":
                print(f"error {message['code']}: {message['message']}")
                return 1
            elif kind == "snapshot":
                last_seq[message["symbol"]] = message["seq"]
                print(f"snapshot {message['symbol']} seq={message['seq']} bid={message.get('bid')} ask={message.get('ask')} last={message.get('last')}")
            elif kind in ("quote", "trade", "conflated"):
                symbol, seq = message["symbol"], message["seq"]
                if symbol in last_seq and seq != last_seq[symbol] + 1:
                    gaps += seq - last_seq[symbol] - 1
                    print(f"gap on {symbol}: {last_seq[symbol]} -> {seq}")
                last_seq[symbol] = seq
                updates += 1
                if kind == "quote":
                    print(f"{symbol} #{seq} {message['bid']} x {message['ask']} ({message['bidSize']}/{message['askSize']})")
                elif kind == "conflated":  # we were slow: this is the symbol's whole latest state
                    print(f"{symbol} #{seq} latest {message.get('bid')} x {message.get('ask')}, last {message.get('last')}")
                else:
                    print(f"{symbol} #{seq} trade {message['size']} @ {message['price']}")
        print(f"{updates} updates, {gaps} missed")
        return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="ws://127.0.0.1:8080/ws")
    parser.add_argument("--symbols", default="AAPL,MSFT")
    parser.add_argument("--count", type=int, default=20)
    args = parser.parse_args()
    raise SystemExit(asyncio.run(main(args.url, args.symbols.split(","), args.count)))
