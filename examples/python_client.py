#!/usr/bin/env python3
"""TickerHub subscriber on the Python client (clients/python): it reconnects by itself, recovers
what it missed, and counts every update it never saw.

    pip install ./clients/python        # or: make test, which puts it in .venv
    python3 examples/python_client.py --url ws://127.0.0.1:8080/ws --symbols AAPL,MSFT --count 20

Stop the hub and start it again while this runs: the client reconnects with jittered backoff and
re-bases from the new hub's snapshots. Run the hub with --history 1000 and a dropped connection
gets every missed update replayed instead.
"""
import argparse
import asyncio

from tickerhub_client import TickerHubClient, TickerHubClosed


async def main(url: str, symbols: list[str], count: int, zstd: bool) -> int:
    updates = 0
    try:
        async with TickerHubClient(url, zstd=zstd) as hub:
            print(f"connected: {hub.welcome['protocol']}, epoch {hub.epoch}, history {hub.welcome.get('history', 0)}")
            ack = await hub.subscribe(symbols)
            print(f"subscribed to {', '.join(ack['symbols'])}")
            async for update in hub:
                data = update.data
                if update.missed:
                    print(f"gap on {update.symbol}: {update.missed} missed before #{update.seq}")
                if update.type == "snapshot":
                    print(f"snapshot {update.symbol} seq={update.seq} bid={data.get('bid')} ask={data.get('ask')} last={data.get('last')}")
                    continue
                updates += 1
                if update.type == "quote":
                    print(f"{update.symbol} #{update.seq} {data['bid']} x {data['ask']} ({data['bidSize']}/{data['askSize']})")
                elif update.type == "trade":
                    print(f"{update.symbol} #{update.seq} trade {data['size']} @ {data['price']}")
                else:  # conflated: we were slow, and this is the symbol's whole latest state
                    print(f"{update.symbol} #{update.seq} latest {data.get('bid')} x {data.get('ask')}, last {data.get('last')}")
                if updates >= count:
                    break
            missed = sum(state.gaps for state in hub.state.values())
    except TickerHubClosed as closed:
        print(f"stopped: {closed.code} {closed.reason}")
        return 1
    print(f"{updates} updates, {missed} missed")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="ws://127.0.0.1:8080/ws")
    parser.add_argument("--symbols", default="AAPL,MSFT")
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--zstd", action="store_true", help="use the tickerhub.v1.zstd subprotocol (pip install ./clients/python[zstd])")
    args = parser.parse_args()
    raise SystemExit(asyncio.run(main(args.url, args.symbols.split(","), args.count, args.zstd)))
