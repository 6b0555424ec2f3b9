"""OHLC bars (docs/PROTOCOL.md, "Candles") against a real hub: the bars a client builds from the
trades it saw are the hub's bars over REST, the `candles` channel sends the open bar as it changes
and each bar once more when it closes, and a chart can backfill and go on live without a gap."""
import asyncio
import json
import time

import websockets

from conftest import SeqChain

SECOND = 1_000_000_000


def bars_from_trades(trades, interval_ns):
    """What docs/PROTOCOL.md says a bar is: the trades in [start, start + interval), start a whole
    multiple of the interval since the epoch."""
    bars = {}
    for ts, price, size in trades:
        start = ts - ts % interval_ns
        bar = bars.get(start)
        if bar is None:
            bars[start] = {"start": start, "open": price, "high": price, "low": price, "close": price, "volume": size, "trades": 1}
        else:
            bar["high"] = max(bar["high"], price, key=float)
            bar["low"] = min(bar["low"], price, key=float)
            bar["close"] = price
            bar["volume"] += size
            bar["trades"] += 1
    return bars


def test_rest_bars_are_the_bars_of_the_trades_a_client_saw(start_hub):
    hub = start_hub("--symbols", "5", "--rate", "2000")

    async def run():
        trades = {}
        async with websockets.connect(hub.ws_url, compression=None, max_queue=None) as ws:
            await ws.recv()
            symbols = ["AAPL", "MSFT"]
            await ws.send(json.dumps({"op": "subscribe", "id": 1, "symbols": symbols}))
            first_seen = None
            deadline = time.monotonic() + 4.5
            while (left := deadline - time.monotonic()) > 0:
                try:
                    m = json.loads(await asyncio.wait_for(ws.recv(), left))
                except asyncio.TimeoutError:
                    break
                if m["type"] == "trade":
                    first_seen = first_seen or m["ts"]
                    trades.setdefault(m["symbol"], []).append((m["ts"], m["price"], m["size"]))
        return symbols, trades, first_seen

    symbols, trades, first_seen = asyncio.run(run())
    time.sleep(0.6)  # the last whole second closes (250 ms after its end)
    compared = 0
    for symbol in symbols:
        rest = hub.get_json(f"/v1/candles?symbol={symbol}&interval=1s&limit=300")
        assert rest["type"] == "candles" and rest["symbol"] == symbol and rest["interval"] == "1s" and rest["seq"] > 0
        starts = [bar["start"] for bar in rest["bars"]]
        assert starts == sorted(starts) and len(set(starts)) == len(starts), "bars oldest first, one per start"
        assert all(bar["closed"] for bar in rest["bars"][:-1])
        mine = bars_from_trades(trades[symbol], SECOND)
        last_seen = trades[symbol][-1][0]
        for bar in rest["bars"]:
            # Only the seconds this client saw whole: after its first trade's second, before its last's.
            if bar["start"] <= first_seen or bar["start"] + SECOND > last_seen - last_seen % SECOND:
                continue
            assert bar["closed"], bar
            ours = mine.get(bar["start"])
            assert ours is not None, f"{symbol}: the hub has a bar at {bar['start']} with no trade the client saw"
            assert {k: bar[k] for k in ours} == ours, (symbol, bar, ours)
            compared += 1
        # And no second the client saw whole is missing from the hub's bars.
        whole = [start for start in mine if first_seen < start and start + SECOND <= last_seen - last_seen % SECOND]
        assert set(whole) <= set(starts), symbol
    assert compared >= 4, compared
    # Bad requests are refused with the reason.
    assert hub.get("/v1/candles?symbol=AAPL")[0] == 400
    assert hub.get("/v1/candles?symbol=AAPL&interval=2m")[0] == 400
    assert hub.get("/v1/candles?symbol=AAPL&interval=1m&limit=0")[0] == 400
    assert hub.get("/v1/candles?symbol=NOPE&interval=1m")[0] == 404
    assert len(hub.get_json("/v1/candles?symbol=AAPL&interval=1s&limit=2")["bars"]) == 2


def test_the_candles_channel_sends_the_open_bar_then_each_closed_one_and_a_chart_backfills_without_a_gap(start_hub):
    hub = start_hub("--symbols", "5", "--rate", "2000")

    async def run():
        async with websockets.connect(hub.ws_url, compression=None, max_queue=None) as ws:
            await ws.recv()
            await ws.send(json.dumps({"op": "subscribe", "id": 1, "channel": "candles", "interval": "1s", "symbols": ["AAPL"]}))
            ack = json.loads(await ws.recv())
            assert ack == {"type": "ack", "id": 1, "op": "subscribe", "channel": "candles", "interval": "1s", "symbols": ["AAPL"]}
            start = json.loads(await ws.recv())
            assert start["type"] == "candles" and start["interval"] == "1s" and len(start["bars"]) <= 2
            # The chart: subscribe first, then backfill, then merge by start (live replaces).
            backfill = hub.get_json("/v1/candles?symbol=AAPL&interval=1s&limit=300")
            chart = {bar["start"]: bar for bar in backfill["bars"]}
            chain = SeqChain({"AAPL 1s": start["seq"]})
            closed = []
            deadline = time.monotonic() + 3.5
            while (left := deadline - time.monotonic()) > 0:
                try:
                    m = json.loads(await asyncio.wait_for(ws.recv(), left))
                except asyncio.TimeoutError:
                    break
                assert m["type"] == "candle" and m["symbol"] == "AAPL" and m["interval"] == "1s", m
                chain.follow("AAPL 1s", m["seq"], "candle")
                if m["seq"] > backfill["seq"] or m["start"] not in chart:
                    chart[m["start"]] = {k: v for k, v in m.items() if k not in ("type", "symbol", "interval", "seq")}
                if m["closed"]:
                    closed.append(m)
            return chart, closed

    chart, closed = asyncio.run(run())
    assert len(closed) >= 2, "bars close once a second"
    time.sleep(0.6)
    rest = {bar["start"]: bar for bar in hub.get_json("/v1/candles?symbol=AAPL&interval=1s&limit=300")["bars"]}
    for bar in closed:
        assert {k: v for k, v in bar.items() if k not in ("type", "symbol", "interval", "seq")} == rest[bar["start"]]
    # The chart has every bar the hub has up to the last one it saw, with the same values: no gap.
    last = max(chart)
    for start, bar in rest.items():
        if start < last and bar["closed"]:
            assert chart.get(start) == bar, start
