"""Channels (docs/PROTOCOL.md, "Channels"): `quotes` and `trades` alone, each numbered on its own,
the default (both, numbered together) unchanged, a symbol on one of the three at a time, `since`
recovery per channel, against a real hub with the third-party `websockets` client."""
import asyncio
import json
import time

import websockets


async def read_for(ws, seconds):
    messages = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            messages.append(json.loads(await asyncio.wait_for(ws.recv(), left)))
        except asyncio.TimeoutError:
            break
    return messages


def test_quotes_and_trades_channels_carry_one_kind_each_numbered_on_its_own(start_hub):
    hub = start_hub("--symbols", "5", "--rate", "2000", "--history", "1000")

    async def run():
        async with websockets.connect(hub.ws_url, compression=None, max_queue=None) as quotes_ws, \
                websockets.connect(hub.ws_url, compression=None, max_queue=None) as trades_ws, \
                websockets.connect(hub.ws_url, compression=None, max_queue=None) as both_ws:
            for ws in (quotes_ws, trades_ws, both_ws):
                await ws.recv()
            await quotes_ws.send(json.dumps({"op": "subscribe", "id": 1, "channel": "quotes", "symbols": ["AAPL"]}))
            await trades_ws.send(json.dumps({"op": "subscribe", "id": 1, "channel": "trades", "symbols": ["AAPL"]}))
            await both_ws.send(json.dumps({"op": "subscribe", "id": 1, "symbols": ["AAPL"]}))
            return await asyncio.gather(*(read_for(ws, 2.5) for ws in (quotes_ws, trades_ws, both_ws)))

    quotes, trades, both = asyncio.run(run())
    assert quotes[0] == {"type": "ack", "id": 1, "op": "subscribe", "channel": "quotes", "symbols": ["AAPL"]}
    assert trades[0]["channel"] == "trades" and both[0] == {"type": "ack", "id": 1, "op": "subscribe", "symbols": ["AAPL"]}
    for messages, kind in ((quotes, "quote"), (trades, "trade"), (both, None)):
        snapshot = messages[1]
        assert snapshot["type"] == "snapshot" and snapshot["symbol"] == "AAPL"
        seq = snapshot["seq"]
        updates = messages[2:]
        assert len(updates) > 20, (kind, len(updates))
        for m in updates:
            assert m["type"] == kind if kind else m["type"] in ("quote", "trade"), m
            assert m["seq"] == seq + 1, f"{kind or 'default'}: seq {m['seq']} after {seq}"
            seq = m["seq"]
    # The quotes channel's snapshot has the quote and nothing of the trades; the trades', the last trade.
    assert "bid" in quotes[1] and "last" not in quotes[1]
    assert "last" in trades[1] and "bid" not in trades[1]
    # Same quotes, own numbers: the channel's quotes are the default channel's quotes.
    default_quotes = [(m["ts"], m["bid"], m["ask"]) for m in both[2:] if m["type"] == "quote"]
    channel_quotes = [(m["ts"], m["bid"], m["ask"]) for m in quotes[2:]]
    common = set(default_quotes) & set(channel_quotes)
    assert len(common) >= 0.8 * min(len(default_quotes), len(channel_quotes))


def test_a_symbol_moves_between_the_default_quotes_and_trades_channels_and_recovers_on_each(start_hub):
    hub = start_hub("--symbols", "5", "--rate", "1000", "--history", "1000")

    async def run():
        async with websockets.connect(hub.ws_url, compression=None, max_queue=None) as ws:
            welcome = json.loads(await ws.recv())
            await ws.send(json.dumps({"op": "subscribe", "id": 1, "symbols": ["AAPL", "MSFT"]}))
            await read_for(ws, 0.5)
            await ws.send(json.dumps({"op": "subscribe", "id": 2, "channel": "trades", "symbols": ["AAPL"]}))
            messages = await read_for(ws, 1.5)
            ack = next(i for i, m in enumerate(messages) if m["type"] == "ack")
            after = messages[ack + 1:]
            assert after[0]["type"] == "snapshot" and after[0]["symbol"] == "AAPL"
            # From the ack on, AAPL comes as trades only; MSFT stays on the default channel.
            aapl = [m for m in after[1:] if m.get("symbol") == "AAPL"]
            assert aapl and all(m["type"] == "trade" for m in aapl)
            assert any(m["type"] == "quote" and m["symbol"] == "MSFT" for m in after)
            await ws.send(json.dumps({"op": "stats", "id": 3}))
            stats = [m for m in await read_for(ws, 0.3) if m["type"] == "stats"][0]
            assert stats["counters"]["subscriptions"] == 2, "AAPL left the default channel for trades"
            last_trade_seq = aapl[-1]["seq"]
            return welcome["epoch"], last_trade_seq

    epoch, last_trade_seq = asyncio.run(run())
    time.sleep(0.5)

    async def resume():
        async with websockets.connect(hub.ws_url, compression=None, max_queue=None) as ws:
            await ws.recv()
            await ws.send(json.dumps({"op": "subscribe", "id": 1, "channel": "trades", "symbols": ["AAPL"],
                                      "since": {"AAPL": last_trade_seq}, "epoch": epoch}))
            ack = json.loads(await ws.recv())
            assert ack["recovered"] is True and ack["channel"] == "trades", ack
            replay = await read_for(ws, 0.5)
            seqs = [m["seq"] for m in replay if m.get("symbol") == "AAPL"]
            assert seqs and seqs[0] == last_trade_seq + 1 and seqs == list(range(seqs[0], seqs[0] + len(seqs)))
            assert all(m["type"] == "trade" for m in replay if m.get("symbol") == "AAPL")

    asyncio.run(resume())
