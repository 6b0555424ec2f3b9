"""The Python client (clients/python, installed into the venv as `pip install ./clients/python`)
against real hubs: it reconnects on its own across a hub restart and re-bases on the new epoch; a
dropped connection recovers every missed update from the hub's history; the gaps it counts agree
with the hub's own counters; and it stops, with the reason, on a close it must not retry."""
import asyncio

from conftest import free_port
from tickerhub_client import Backoff, HubUnavailable, TickerHubClient, TickerHubClosed

SYMBOLS = ["AAPL", "MSFT", "NVDA"]



async def take(client, seconds):
    """The updates the client yields within `seconds`."""
    got = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while (left := deadline - loop.time()) > 0:
        try:
            got.append(await asyncio.wait_for(client.__anext__(), left))
        except asyncio.TimeoutError:
            break
    return got


def test_it_reconnects_across_a_hub_restart_and_rebases_on_the_new_epoch(start_hub):
    port = free_port()
    first = start_hub("--symbols", ",".join(SYMBOLS), "--rate", "200", port=port)

    async def run():
        client = TickerHubClient(f"ws://127.0.0.1:{port}/ws", backoff=Backoff(initial=0.1, maximum=0.5))
        await client.connect()
        old_epoch = client.epoch
        ack = await client.subscribe(SYMBOLS)
        assert ack["symbols"] == SYMBOLS
        before = await take(client, 1.0)
        assert {u.symbol for u in before} == set(SYMBOLS)
        seqs_before = {s: client.state[s].seq for s in SYMBOLS}

        first.stop()  # 1001 going away: the client must come back on its own
        start_hub("--symbols", ",".join(SYMBOLS), "--rate", "200", port=port)
        after = await take(client, 3.0)
        assert client.connections == 2 and client.epoch != old_epoch
        snapshots = [u for u in after if u.type == "snapshot"]
        assert {u.symbol for u in snapshots} == set(SYMBOLS), "re-based from the new hub's snapshots"
        assert all(u.missed == 0 for u in snapshots), "a new epoch is not a gap"
        for symbol in SYMBOLS:
            state = client.state[symbol]
            assert state.epoch == client.epoch and 0 < state.seq
            assert state.seq < seqs_before[symbol] + 1000
        assert sum(1 for u in after if u.type in ("quote", "trade")) > 50
        await client.close()
        assert [u async for u in client] == []  # the iteration ends after close()

    asyncio.run(asyncio.wait_for(run(), 30))


def test_a_dropped_connection_recovers_every_missed_update_in_order(start_hub):
    hub = start_hub("--symbols", ",".join(SYMBOLS), "--rate", "60", "--burst-every", "3", "--burst-for", "2",
                    "--history", "2000")

    async def run():
        witness = await TickerHubClient(hub.ws_url).connect()
        await witness.subscribe(SYMBOLS)
        witness_updates = asyncio.create_task(take(witness, 7))
        client = await TickerHubClient(hub.ws_url, backoff=Backoff(initial=0.05, maximum=0.1)).connect()
        await client.subscribe(SYMBOLS)
        got = await take(client, 1.5)
        await client.reconnect()
        got += await take(client, 4)
        assert client.connections == 2
        assert client.recoveries == {"recovered": 3, "not_recovered": 0}
        seen = await witness_updates
        await client.close()
        await witness.close()
        return got, seen

    got, seen = asyncio.run(asyncio.wait_for(run(), 30))
    reference = {(u.symbol, u.seq): u.data for u in seen if u.type in ("quote", "trade")}
    for symbol in SYMBOLS:
        updates = [u for u in got if u.symbol == symbol and u.type in ("quote", "trade")]
        seqs = [u.seq for u in updates]
        snapshot = next(u for u in got if u.symbol == symbol and u.type == "snapshot")
        assert seqs == list(range(snapshot.seq + 1, snapshot.seq + 1 + len(seqs))), f"{symbol}: gap or duplicate"
        assert all(u.missed == 0 for u in updates)
        common = [u for u in updates if (symbol, u.seq) in reference]
        assert len(common) > len(updates) // 2
        assert all(u.data == reference[(symbol, u.seq)] for u in common)
    assert sum(1 for u in got if u.type == "snapshot") == len(SYMBOLS), "recovered symbols get no second snapshot"


def test_the_gaps_it_counts_agree_with_the_hubs_counters(start_hub):
    hub = start_hub("--symbols", "20", "--rate", "1000")

    async def run():
        async with TickerHubClient(hub.ws_url) as client:
            ack = await client.subscribe(["AAPL", "MSFT"], max_frequency=5)
            assert ack["updateIntervalMs"] == 200
            updates = await take(client, 2.0)
            counters = await client.stats()
            return updates, counters, client.connection_missed

    updates, counters, missed = asyncio.run(asyncio.wait_for(run(), 30))
    assert {u.type for u in updates} <= {"snapshot", "conflated"}
    assert missed > 0 and missed == counters["dropped"] + counters["throttled"], (missed, counters)


def test_it_stops_with_the_reason_when_reconnecting_cannot_help(start_hub):
    hub = start_hub("--symbols", "5", "--max-requests-per-second", "1", "--request-burst", "2")

    async def run():
        client = await TickerHubClient(hub.ws_url).connect()
        try:
            for _ in range(4):  # a burst of 2 at 1 per second: the third is one too many
                await client.ping()
            async for _ in client:
                pass
        except TickerHubClosed as closed:
            return closed, client.connections
        raise AssertionError("the iteration ended without an error")

    closed, connections = asyncio.run(asyncio.wait_for(run(), 30))
    assert closed.code == 1008 and connections == 1


def test_with_a_token_provider_it_refreshes_before_expiry_and_without_one_it_stops_on_4001(start_hub):
    import time

    import jwt
    secret = "integration-test-secret-32-bytes-or-more"
    hub = start_hub("--symbols", "AAPL,MSFT", "--rate", "200", "--auth-secret", secret)
    issued = []

    def short_token():
        issued.append(time.time())
        return jwt.encode({"sub": "desk-1", "exp": int(time.time() + 3), "symbols": ["AAPL"]}, secret, algorithm="HS256")

    async def provider():
        return short_token()

    async def run():
        # Tokens that last 3 s, refreshed 1.5 s before they lapse: the connection outlives several.
        refreshed = TickerHubClient(hub.ws_url, token_provider=provider, refresh_margin=1.5)
        await refreshed.connect()
        await refreshed.subscribe(["AAPL"])
        updates = await take(refreshed, 5.0)
        assert refreshed.connections == 1 and len(issued) >= 3, (refreshed.connections, issued)
        assert updates[-1].type in ("quote", "trade")
        await refreshed.close()

        # One fixed token: when it lapses the hub closes with 4001, and the client stops there.
        fixed = TickerHubClient(hub.ws_url, token=short_token())
        await fixed.connect()
        await fixed.subscribe(["AAPL"])
        try:
            async for _ in fixed:
                pass
        except TickerHubClosed as closed:
            return closed.code, fixed.connections
        raise AssertionError("the iteration ended without an error")

    code, connections = asyncio.run(asyncio.wait_for(run(), 30))
    assert code == 4001 and connections == 1


def test_connect_to_a_hub_that_is_down_fails_within_its_timeout_with_the_reason():
    """Issue 24, item 5: no hanging; the error says what the attempts met."""
    async def run():
        port = free_port()  # nothing listens there
        client = TickerHubClient(f"ws://127.0.0.1:{port}/ws", backoff=Backoff(initial=0.05, maximum=0.2))
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            await client.connect(timeout=1.5)
        except HubUnavailable as error:
            waited = loop.time() - started
            assert 1.4 <= waited < 5, waited
            assert f"127.0.0.1:{port}" in str(error) and "Connect" in str(error), str(error)
            assert client.status == "closed"
            return
        raise AssertionError("connect() returned with no hub")
    asyncio.run(run())


class BlackholeProxy:
    """A TCP proxy that can go silent both ways while keeping its sockets open: a half-open link."""

    def __init__(self, target_port: int):
        self.target_port, self.silent, self.links = target_port, False, []

    async def start(self) -> int:
        self.server = await asyncio.start_server(self.link, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    async def link(self, client_reader, client_writer):
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self.links.append((client_writer, upstream_writer))

        async def pump(reader, writer):
            while data := await reader.read(65536):
                if not self.silent:
                    writer.write(data)
            writer.close()
        await asyncio.gather(pump(client_reader, upstream_writer), pump(upstream_reader, client_writer), return_exceptions=True)

    def close(self):
        for pair in self.links:
            for writer in pair:
                writer.close()
        self.server.close()


def test_with_heartbeats_a_half_open_link_is_dropped_after_two_intervals_and_the_client_reconnects(start_hub):
    hub = start_hub("--symbols", ",".join(SYMBOLS), "--rate", "1")

    async def run():
        proxy = BlackholeProxy(hub.port)
        port = await proxy.start()
        client = TickerHubClient(f"ws://127.0.0.1:{port}/ws", heartbeat_ms=1000, backoff=Backoff(initial=0.05, maximum=0.2))
        loop = asyncio.get_running_loop()
        try:
            await client.connect()
            await client.subscribe(["AAPL"])
            assert client.status == "connected"
            proxy.silent = True
            cut = loop.time()
            while client.status == "connected" and loop.time() - cut < 10:
                await asyncio.sleep(0.02)
            noticed = loop.time() - cut
            # Two intervals of silence, not fewer; then the reader's own slack.
            assert 2.0 <= noticed < 4.0, noticed
            assert client.heartbeats_missed == 1
            proxy.silent = False
            while client.status != "connected" and loop.time() - cut < 15:
                await asyncio.sleep(0.05)
            assert client.status == "connected" and client.connections == 2
        finally:
            await client.close()
            proxy.close()
    asyncio.run(run())


def test_it_keeps_books_checked_bars_backfilled_channels_and_patterns(start_hub):
    """The market-data channels through the client: books verified message by message (and a book
    forced out of step is resubscribed and put right), bars backfilled and then live without a gap,
    the trades channel alone, and a pattern."""
    hub = start_hub("--symbols", "8", "--rate", "2000")

    async def run():
        async with TickerHubClient(hub.ws_url) as client:
            await client.subscribe_book(["AAPL", "MSFT"], depth=10)
            await client.subscribe_candles(["AAPL"], interval="1s")
            await client.subscribe(["NVDA"], channel="trades")
            await client.subscribe(["M*"], channel="quotes")
            series = await client.backfill_candles("AAPL", "1s")
            got = await take(client, 3.0)
            kinds = {u.type for u in got}
            assert {"book", "bookUpdate", "candle", "trade", "quote"} <= kinds, kinds
            books = [u for u in got if u.type in ("book", "bookUpdate")]
            assert len(books) > 200 and client.book_resyncs == 0
            assert all(client.books[key].in_step for key in client.books)
            assert all(u.symbol == "NVDA" for u in got if u.type == "trade")
            assert {u.symbol for u in got if u.type == "quote"} <= {s for s in client.state if s.startswith("M")}
            # Bars: the backfill and the live bars, merged by start, oldest first, none missing.
            starts = [bar["start"] for bar in series.ordered()]
            assert starts == sorted(starts) and len(starts) >= 2
            # A book forced out of step is subscribed again, and its snapshot puts it right.
            client.books[("AAPL", 10)].bids = [("1.0000", "1")]
            await take(client, 1.0)
            assert client.book_resyncs >= 1 and client.books[("AAPL", 10)].in_step

    asyncio.run(run())
