"""Recovery (`--history`, `subscribe` with `since`): a client that drops off during a trade burst
and comes back ends with every update, in order, with no duplicate, checked against a client that
stayed connected the whole time. Also what happens when recovery is not possible: history too short,
or a hub restart (a new epoch)."""
import asyncio
import json


from conftest import connect

SYMBOLS = ["AAPL", "MSFT", "NVDA"]


class Book:
    """Every update of the followed symbols a client holds, by (symbol, seq), as the text it came in."""

    def __init__(self):
        self.updates = {symbol: [] for symbol in SYMBOLS}
        self.snapshots = []

    def take(self, message):
        if message["type"] in ("quote", "trade"):
            self.updates[message["symbol"]].append((message["seq"], message))
        elif message["type"] == "snapshot":
            self.snapshots.append(message)
        elif message["type"] == "conflated":
            raise AssertionError(f"conflated: this client should keep up, {message}")

    def last_seqs(self):
        return {s: (u[-1][0] if u else snap_seq) for s, u, snap_seq in
                ((s, self.updates[s], max([m["seq"] for m in self.snapshots if m["symbol"] == s], default=0)) for s in SYMBOLS)}


async def read_into(ws, book, seconds):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while (left := deadline - loop.time()) > 0:
        try:
            book.take(json.loads(await asyncio.wait_for(ws.recv(), left)))
        except asyncio.TimeoutError:
            return


async def subscribe(ws, id=1, **fields):
    """The subscribe's ack; what arrives before it (updates of an earlier subscription) is skipped."""
    await ws.send(json.dumps({"op": "subscribe", "id": id, "symbols": SYMBOLS, **fields}))
    while True:
        message = json.loads(await ws.recv())
        if message["type"] == "ack" and message["id"] == id:
            return message


def test_a_client_away_during_a_burst_recovers_every_update_in_order(start_hub):
    # 60 ticks/s over 3 symbols, 10x in bursts of 3 s every 4 s: the client is away for 2.5 s of one.
    hub = start_hub("--symbols", ",".join(SYMBOLS), "--rate", "60", "--burst-every", "4", "--burst-for", "3",
                    "--history", "5000")

    async def run():
        witness, welcome = await connect(hub.ws_url, max_queue=None)
        assert welcome["history"] == 5000 and welcome["epoch"]
        await subscribe(witness)
        reference = Book()
        witness_task = asyncio.create_task(read_into(witness, reference, 9))

        ws, first_welcome = await connect(hub.ws_url, max_queue=None)
        await subscribe(ws)
        book = Book()
        await read_into(ws, book, 1.5)
        held = book.last_seqs()
        await ws.close()
        await asyncio.sleep(2.5)

        ws, welcome = await connect(hub.ws_url, max_queue=None)
        assert welcome["epoch"] == first_welcome["epoch"]
        ack = await subscribe(ws, since=held, epoch=welcome["epoch"])
        assert ack["recovered"] is True and "notRecovered" not in ack, ack
        snapshots_before = len(book.snapshots)
        await read_into(ws, book, 3)
        assert len(book.snapshots) == snapshots_before, "a recovered symbol gets no snapshot"
        await ws.close()
        await witness_task
        await witness.close()
        return reference, book, held

    reference, book, held = asyncio.run(run())
    stats = hub.get_json("/stats")
    assert stats["recoveredSymbols"] == 3 and stats["unrecoveredSymbols"] == 0
    missed = 0
    for symbol in SYMBOLS:
        seqs = [seq for seq, _ in book.updates[symbol]]
        first = book.snapshots[[m["symbol"] for m in book.snapshots].index(symbol)]["seq"]
        assert seqs == list(range(first + 1, first + 1 + len(seqs))), f"{symbol}: a gap or a duplicate"
        # The same updates as the client that never left, value for value.
        ref = dict(reference.updates[symbol])
        compared = [seq for seq in seqs if seq in ref]
        assert len(compared) > len(seqs) // 2
        for seq, message in book.updates[symbol]:
            if seq in ref:
                assert message == ref[seq], f"{symbol} seq {seq} differs"
        missed += sum(1 for seq in seqs if seq > held[symbol])
    assert stats["replayedUpdates"] > 0
    assert missed > 0 and stats["replayedUpdates"] <= missed
    trades = sum(1 for s in SYMBOLS for _, m in book.updates[s] if m["type"] == "trade")
    assert trades > 0


def test_too_short_a_history_or_another_epoch_gives_snapshots_with_the_gap(start_hub):
    hub = start_hub("--symbols", ",".join(SYMBOLS), "--rate", "300", "--history", "5")

    async def run():
        ws, welcome = await connect(hub.ws_url, max_queue=None)
        await subscribe(ws)
        book = Book()
        await read_into(ws, book, 0.5)
        held = book.last_seqs()
        await ws.close()
        await asyncio.sleep(0.5)  # ~50 updates per symbol: more than the 5 kept

        ws, welcome = await connect(hub.ws_url, max_queue=None)
        ack = await subscribe(ws, since=held, epoch=welcome["epoch"])
        assert ack["recovered"] is False and sorted(ack["notRecovered"]) == sorted(SYMBOLS), ack
        snapshots = [json.loads(await ws.recv()) for _ in SYMBOLS]
        for snapshot in snapshots:
            assert snapshot["type"] == "snapshot" and snapshot["epoch"] == welcome["epoch"]
            assert snapshot["seq"] > held[snapshot["symbol"]] + 5, "the gap shows in the seq"
        # Up to date with a seq from another numbering: the hub must not pretend to recover.
        await ws.send(json.dumps({"op": "unsubscribe", "id": 2, "symbols": SYMBOLS}))
        ack = await subscribe(ws, id=3, since={s: 1 for s in SYMBOLS}, epoch="1-00000000")
        assert ack["recovered"] is False and len(ack["notRecovered"]) == 3, ack
        await ws.close()

    asyncio.run(run())
    stats = hub.get_json("/stats")
    assert stats["unrecoveredSymbols"] == 6 and stats["recoveredSymbols"] == 0
    metrics = hub.get("/metrics")[1]
    assert 'tickerhub_recoveries_total{result="snapshot"} 6' in metrics
    snapshot = hub.get_json("/v1/snapshot?symbols=AAPL")
    assert snapshot[0]["epoch"]
