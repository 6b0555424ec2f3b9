"""Channels (docs/PROTOCOL.md, "Channels"): `quotes` and `trades` alone, each numbered on its own,
the default (both, numbered together) unchanged, a symbol on one of the three at a time, `since`
recovery per channel, against a real hub with the third-party `websockets` client."""
import asyncio
import json
import time

import websockets

from conftest import SeqChain


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
    time.sleep(1)  # so that each stream has values by the time its snapshot is taken

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
        chain = SeqChain({kind or "default": snapshot["seq"]})
        updates = messages[2:]
        assert len(updates) > 20, (kind, len(updates))
        for m in updates:
            assert m["type"] == kind if kind else m["type"] in ("quote", "trade"), m
            chain.follow(kind or "default", m["seq"])
    # The quotes channel's snapshot has the quote and nothing of the trades; the trades', the last trade.
    # (A stream with nothing yet has seq 0 and only the instrument's details.)
    assert ("bid" in quotes[1]) == (quotes[1]["seq"] > 0) and "last" not in quotes[1]
    assert ("last" in trades[1]) == (trades[1]["seq"] > 0) and "bid" not in trades[1]
    assert quotes[1]["tickSize"] == trades[1]["tickSize"] == "0.0100"
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


def encode_quote_batch(quotes):
    """A binary tick batch (docs/PROTOCOL.md, "Binary tick encoding") of quotes (symbol, bid, ask), seq 0."""
    import struct
    body = b""
    for symbol, bid, ask in quotes:
        name = symbol.encode()
        body += struct.pack("<BB", 1, len(name)) + name + struct.pack("<QQB", 0, 0, 4) + struct.pack("<qqqq", bid, ask, 100, 200)
    return b"TK" + struct.pack("<BBH", 1, 0, len(quotes)) + body


def test_a_pattern_takes_the_symbols_it_matches_and_those_that_appear_later(start_hub):
    hub = start_hub("--feed", "ingest", "--max-symbols", "3")
    ingest = f"ws://127.0.0.1:{hub.port}/ingest"

    async def run():
        async with websockets.connect(ingest, compression=None) as publisher:
            await publisher.send(encode_quote_batch([("EUR/USD", 10_800, 10_801), ("GBP/USD", 12_700, 12_702)]))
            await asyncio.sleep(0.3)
            async with websockets.connect(hub.ws_url, compression=None, max_queue=None) as ws, \
                    websockets.connect(hub.ws_url, compression=None, max_queue=None) as everything:
                await ws.recv()
                await everything.recv()
                await ws.send(json.dumps({"op": "subscribe", "id": 1, "symbols": ["EUR/*"]}))
                ack = json.loads(await ws.recv())
                assert ack == {"type": "ack", "id": 1, "op": "subscribe", "symbols": ["EUR/USD"], "patterns": ["EUR/*"]}
                snapshot = json.loads(await ws.recv())
                assert snapshot["type"] == "snapshot" and snapshot["symbol"] == "EUR/USD"
                await everything.send(json.dumps({"op": "subscribe", "id": 1, "channel": "quotes", "symbols": ["*"]}))
                ack = json.loads(await everything.recv())
                assert sorted(ack["symbols"]) == ["EUR/USD", "GBP/USD"] and ack["patterns"] == ["*"] and ack["channel"] == "quotes"
                # Symbols that appear later: a matching one joins with its snapshot, then its updates.
                await publisher.send(encode_quote_batch([("EUR/JPY", 1_620_000, 1_620_100), ("USD/JPY", 1_500_000, 1_500_100)]))
                await publisher.send(encode_quote_batch([("EUR/JPY", 1_620_010, 1_620_110), ("EUR/GBP", 8_500, 8_501)]))
                seen = await read_for(ws, 1.0)
                kinds = [(m["type"], m.get("symbol")) for m in seen]
                assert ("snapshot", "EUR/JPY") in kinds and ("snapshot", "EUR/GBP") in kinds, kinds
                assert all(symbol != "USD/JPY" for _, symbol in kinds), "USD/JPY does not match EUR/*"
                jpy = [m for m in seen if m.get("symbol") == "EUR/JPY"]
                assert jpy[0]["type"] == "snapshot" and all(m["seq"] > jpy[0]["seq"] - 1 for m in jpy)
                assert jpy[-1]["bid"] == "162.0010", "the update after the symbol joined arrived"
                # `--max-symbols 3`: past the third, each symbol `*` matches is refused, named; the rest go on.
                everything_seen = await read_for(everything, 0.5)
                errors = [m for m in everything_seen if m["type"] == "error"]
                assert all(e["code"] == "too_many_symbols" for e in errors), errors
                assert sorted(e["symbols"][0] for e in errors) == ["EUR/GBP", "USD/JPY"], errors
                assert sorted(m["symbol"] for m in everything_seen if m["type"] == "snapshot") == ["EUR/JPY", "EUR/USD", "GBP/USD"]
                # Unsubscribing the pattern leaves what it matches, and later symbols no longer join.
                await ws.send(json.dumps({"op": "unsubscribe", "id": 2, "symbols": ["EUR/*"]}))
                left = [m for m in await read_for(ws, 0.5) if m["type"] == "ack"]
                assert left and left[0]["patterns"] == ["EUR/*"]
                await publisher.send(encode_quote_batch([("EUR/CHF", 9_400, 9_401)]))
                after = await read_for(ws, 0.7)
                assert not [m for m in after if m.get("symbol") == "EUR/CHF"]
                await ws.send(json.dumps({"op": "stats", "id": 3}))
                stats = [m for m in await read_for(ws, 0.3) if m["type"] == "stats"][0]
                assert stats["counters"]["subscriptions"] == 0
                # A pattern is a prefix and a final *, nothing else.
                await ws.send(json.dumps({"op": "subscribe", "id": 4, "symbols": ["E*R"]}))
                error = json.loads(await ws.recv())
                assert error["type"] == "error" and error["code"] == "invalid_request" and error["id"] == 4

    asyncio.run(run())


def test_instruments_carry_details_and_session_statistics_from_every_feed(start_hub):
    """`GET /v1/instruments` and every `snapshot` carry each symbol's details (tick size, lot size,
    currency, name) and its session's high, low, volume and VWAP; the simulator and an ingest
    publisher both set the details."""
    from decimal import Decimal
    hub = start_hub("--symbols", "5", "--rate", "2000")
    time.sleep(1.5)
    instruments = hub.get_json("/v1/instruments")
    assert [i["symbol"] for i in instruments] == hub.get_json("/v1/symbols")
    for instrument in instruments:
        assert instrument["tickSize"] == "0.0100" and instrument["lotSize"] == 100 and instrument["currency"] == "USD"
        assert instrument["name"] == instrument["symbol"]
        if "volume" in instrument:
            low, high, vwap = Decimal(instrument["low"]), Decimal(instrument["high"]), Decimal(instrument["vwap"])
            assert low <= vwap <= high and instrument["volume"] > 0
    assert any("vwap" in i for i in instruments)

    async def snapshot():
        async with websockets.connect(hub.ws_url, compression=None) as ws:
            await ws.recv()
            await ws.send(json.dumps({"op": "subscribe", "id": 1, "symbols": ["AAPL"]}))
            await ws.recv()
            return json.loads(await ws.recv())

    first = asyncio.run(snapshot())
    assert first["type"] == "snapshot" and first["tickSize"] == "0.0100" and first["currency"] == "USD"

    ingest_hub = start_hub("--feed", "ingest")
    from conftest import feedsim
    published = feedsim("publish", "--url", f"ws://127.0.0.1:{ingest_hub.port}/ingest", "--symbols", "4", "--count", "200")
    assert published.returncode == 0, published.stderr
    listed = ingest_hub.get_json("/v1/instruments")
    assert len(listed) == 4 and all(i["tickSize"] == "0.0100" and i["lotSize"] == 100 for i in listed), listed
