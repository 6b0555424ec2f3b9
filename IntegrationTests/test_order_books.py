"""Order books (docs/PROTOCOL.md, "Order books") against a real hub with the third-party Python
`websockets` client: every checksum verified by a client that keeps its own book, the REST snapshot,
and a slow book subscriber that converges to the hub's book."""
import asyncio
import json
import time
import zlib

import websockets

from conftest import read_until_stats
from rawws import RawWebSocket


def price_digits(price: str) -> str:
    """A price's digits for the checksum: its text without the point and leading zeros, sign kept."""
    sign = "-" if price.startswith("-") else ""
    digits = price.lstrip("-").replace(".", "").lstrip("0")
    return sign + (digits or "0")


def checksum(bids, asks) -> int:
    text = "".join(price_digits(p) + s for p, s in asks[:10]) + "".join(price_digits(p) + s for p, s in bids[:10])
    return zlib.crc32(text.encode())


class BookMirror:
    """What a careful client keeps per (symbol, depth): the levels, the seq, and every check."""

    def __init__(self):
        self.books = {}
        self.verified = 0
        self.replaced = 0
        self.gaps = 0

    def apply(self, m: dict):
        key = (m["symbol"], m["depth"])
        if m["type"] == "book":
            previous = self.books.get(key)
            if previous is not None:
                assert m["seq"] > previous["seq"], f"a book went back: {previous['seq']} then {m['seq']}"
                self.gaps += m["seq"] - previous["seq"] - 1
                self.replaced += 1
            self.books[key] = {"seq": m["seq"], "bids": [tuple(level) for level in m["bids"]],
                               "asks": [tuple(level) for level in m["asks"]]}
        else:
            assert m["type"] == "bookUpdate", m
            book = self.books[key]
            assert m["seq"] == book["seq"] + 1, f"{key}: bookUpdate {m['seq']} after {book['seq']}"
            for side, descending in (("bids", True), ("asks", False)):
                levels = dict(book[side])
                for price, size in m[side]:
                    if size == "0":
                        assert price in levels, f"{key} {side}: removal of {price}, which it does not hold"
                        del levels[price]
                    else:
                        levels[price] = size
                ordered = sorted(levels.items(), key=lambda level: float(level[0]), reverse=descending)
                assert len(ordered) <= m["depth"], f"{key} {side}: {len(ordered)} levels at depth {m['depth']}"
                book[side] = ordered
            book["seq"] = m["seq"]
        book = self.books[key]
        assert checksum(book["bids"], book["asks"]) == m["checksum"], f"{key}: checksum mismatch at seq {m['seq']}"
        bids, asks = book["bids"], book["asks"]
        if bids and asks:
            assert float(bids[0][0]) < float(asks[0][0]), f"{key}: crossed book {bids[0]} / {asks[0]}"
        self.verified += 1


def test_the_documented_checksum_example():
    """The worked example of PROTOCOL.md, computed as a client would."""
    assert checksum([("188.2200", "1200"), ("188.2100", "3400")], [("188.2400", "3500")]) == 1294233952
    assert checksum([("188.2300", "300"), ("188.2100", "3400")], [("188.2400", "3500")]) == 3130502982
    assert price_digits("0.0500") == "500" and price_digits("-1.2500") == "-12500"


def test_a_client_verifies_ten_thousand_book_checksums(start_hub):
    hub = start_hub("--symbols", "20", "--rate", "4000")
    symbols = hub.get_json("/v1/symbols")[:8]

    async def run():
        mirror = BookMirror()
        async with websockets.connect(hub.ws_url, compression=None, max_queue=None) as ws:
            assert json.loads(await ws.recv())["type"] == "welcome"
            for request_id, (depth, names) in enumerate([(10, symbols[:4]), (25, symbols[4:6]), (100, symbols[6:])]):
                await ws.send(json.dumps({"op": "subscribe", "id": request_id, "channel": "book", "symbols": names,
                                          "depth": depth}))
            acks = 0
            deadline = time.time() + 60
            while mirror.verified < 10_000:
                assert time.time() < deadline, f"only {mirror.verified} checksums in 60 s"
                m = json.loads(await asyncio.wait_for(ws.recv(), 5))
                if m["type"] == "ack":
                    assert m["channel"] == "book" and m["depth"] in (10, 25, 100)
                    acks += 1
                    continue
                mirror.apply(m)
            assert acks == 3
        depths = {key[1] for key in mirror.books}
        assert depths == {10, 25, 100}
        # The simulated books rest about 40 levels a side: depth 100 shows them all, depth 10 only 10.
        for (symbol, depth), book in mirror.books.items():
            assert len(book["bids"]) == min(depth, len(book["bids"])) and len(book["bids"]) >= min(depth, 20), (symbol, depth)
        print(f"{mirror.verified} checksums verified, {mirror.replaced} books replaced, {mirror.gaps} skipped")
        assert mirror.gaps == 0, "a fast client was sent a book in place of updates"

    asyncio.run(run())


def test_rest_book_is_the_subscription_snapshot(start_hub):
    hub = start_hub("--symbols", "10", "--rate", "50")
    book = hub.get_json("/v1/book?symbol=AAPL&depth=25")
    assert book["type"] == "book" and book["symbol"] == "AAPL" and book["depth"] == 25
    assert len(book["bids"]) == 25 and len(book["asks"]) == 25
    assert checksum(book["bids"], book["asks"]) == book["checksum"]
    assert hub.get_json("/v1/book?symbol=AAPL")["depth"] == 10
    assert hub.get("/v1/book?symbol=AAPL&depth=7")[0] == 400
    assert hub.get("/v1/book")[0] == 400
    status, body = hub.get("/v1/book?symbol=NOPE")
    assert status == 404 and "unknown_symbol" in body

    async def run():
        async with websockets.connect(hub.ws_url, compression=None) as ws:
            await ws.recv()
            await ws.send(json.dumps({"op": "subscribe", "id": 1, "channel": "book", "symbols": ["AAPL"], "depth": 7}))
            error = json.loads(await ws.recv())
            assert error["type"] == "error" and error["code"] == "invalid_request" and error["id"] == 1
            await ws.send(json.dumps({"op": "subscribe", "id": 2, "channel": "candles", "symbols": ["AAPL"]}))
            error = json.loads(await ws.recv())
            assert error["type"] == "error" and error["code"] == "invalid_request"
            await ws.send(json.dumps({"op": "subscribe", "id": 3, "channel": "book", "symbols": ["AAPL"]}))
            assert json.loads(await ws.recv()) == {"type": "ack", "id": 3, "op": "subscribe", "channel": "book", "depth": 10,
                                                   "symbols": ["AAPL"]}
            snapshot = json.loads(await ws.recv())
            assert snapshot["type"] == "book" and snapshot["depth"] == 10 and len(snapshot["bids"]) == 10
            assert snapshot["seq"] >= 1
            await ws.send(json.dumps({"op": "unsubscribe", "id": 4, "channel": "book", "symbols": ["AAPL"]}))
            while True:
                m = json.loads(await ws.recv())
                if m["type"] == "ack":
                    break
                assert m["type"] == "bookUpdate"
            assert m == {"type": "ack", "id": 4, "op": "unsubscribe", "channel": "book", "symbols": ["AAPL"]}
            await ws.send(json.dumps({"op": "stats", "id": 5}))
            while (m := json.loads(await ws.recv()))["type"] != "stats":
                assert m["type"] == "bookUpdate", "an update after the unsubscribe's ack"
            assert m["counters"]["subscriptions"] == 0

    asyncio.run(run())


def test_a_slow_book_subscriber_gets_a_fresh_book_and_converges(start_hub):
    """A subscriber that stops reading is sent, once it reads again, a whole `book` in place of the
    updates it could not take, counted as dropped; its book then matches the hub's at the same seq."""
    hub = start_hub("--symbols", "10", "--rate", "4000", "--max-backlog-bytes", "16384", "--slow-client-timeout", "120")
    symbols = hub.get_json("/v1/symbols")[:5]
    ws = RawWebSocket(hub.port, receive_buffer=4096)
    assert ws.recv_json()["type"] == "welcome"
    ws.send_json({"op": "subscribe", "id": 1, "channel": "book", "symbols": symbols, "depth": 100})
    assert ws.recv_json()["type"] == "ack"
    mirror = BookMirror()
    for _ in symbols:
        mirror.apply(ws.recv_json())
    deadline = time.time() + 15
    while hub.get_json("/stats")["backloggedConnections"] < 1:
        assert time.time() < deadline, "the stalled subscriber never filled its backlog"
        time.sleep(0.1)
    time.sleep(1)

    # Read again until the hub owes nothing, checking every message.
    counters = read_until_stats(ws, mirror)
    assert mirror.replaced > 0 and mirror.gaps > 0, "no fresh book replaced the skipped updates"
    assert counters["dropped"] == mirror.gaps and counters["conflated"] == mirror.replaced, (counters, mirror.gaps)

    # Converged: the hub's book of a symbol, fetched now, is the one this client holds at that seq.
    target = hub.get_json(f"/v1/book?symbol={symbols[0]}&depth=100")
    key = (symbols[0], 100)
    ws.sock.settimeout(10)
    while mirror.books[key]["seq"] < target["seq"]:
        mirror.apply(ws.recv_json())
    book = mirror.books[key]
    assert book["seq"] == target["seq"], "the client skipped the REST snapshot's seq while reading at full speed"
    assert book["bids"] == [tuple(level) for level in target["bids"]]
    assert book["asks"] == [tuple(level) for level in target["asks"]]
    ws.close()


def test_books_published_on_ingest_reach_subscribers_whole(start_hub):
    """`feedsim publish --books` sends whole opening books, then every tick's change (binary book
    records, numbered per symbol). A subscriber that reads throughout and one that stalls both end,
    once the publisher stops, holding exactly the hub's book; nothing was refused or skipped."""
    from conftest import feedsim, CheckedThread
    hub = start_hub("--feed", "ingest", "--max-backlog-bytes", "16384", "--slow-client-timeout", "120")
    # Register the symbols and their books first, so the subscribers can name them.
    first = feedsim("publish", "--url", f"ws://127.0.0.1:{hub.port}/ingest", "--books", "--symbols", "8", "--count", "10",
                    "--rate", "1000")
    assert first.returncode == 0, first.stderr
    symbols = hub.get_json("/v1/symbols")
    assert len(symbols) == 8

    def subscribe(receive_buffer=None):
        ws = RawWebSocket(hub.port, receive_buffer=receive_buffer) if receive_buffer else RawWebSocket(hub.port)
        assert ws.recv_json()["type"] == "welcome"
        ws.send_json({"op": "subscribe", "id": 1, "channel": "book", "symbols": symbols, "depth": 25})
        assert ws.recv_json()["type"] == "ack"
        mirror = BookMirror()
        for _ in symbols:
            mirror.apply(ws.recv_json())
        return ws, mirror

    reader, read_mirror = subscribe()
    stalled, stalled_mirror = subscribe(receive_buffer=4096)
    stop = False

    def read():
        reader.sock.settimeout(0.5)
        while not stop:
            try:
                m = reader.recv_json()
            except TimeoutError:
                continue
            read_mirror.apply(m)

    thread = CheckedThread(read)
    thread.start()
    burst = feedsim("publish", "--url", f"ws://127.0.0.1:{hub.port}/ingest", "--books", "--symbols", "8", "--count", "20000",
                    "--rate", "20000", "--seed", "42")
    assert burst.returncode == 0, burst.stderr
    time.sleep(1)
    stop = True
    thread.join()

    for ws, mirror in ((reader, read_mirror), (stalled, stalled_mirror)):
        assert read_until_stats(ws, mirror)["dropped"] == mirror.gaps
        for symbol in symbols:
            book = hub.get_json(f"/v1/book?symbol={symbol}&depth=25")
            held = mirror.books[(symbol, 25)]
            assert held["seq"] == book["seq"] and held["bids"] == [tuple(x) for x in book["bids"]], symbol
            assert held["asks"] == [tuple(x) for x in book["asks"]], symbol
        ws.close()
    assert stalled_mirror.replaced > 0, "the stalled subscriber was never sent a fresh book"
    stats = hub.get_json("/stats")
    # The second run restarted each book's numbering at 1 with a whole book, which is taken whatever
    # its seq: nothing stale, nothing refused.
    assert stats["bookUpdatesRefused"] == 0 and stats["upstreamStale"] == 0, stats
    print(f"reader verified {read_mirror.verified}, stalled verified {stalled_mirror.verified} "
          f"with {stalled_mirror.replaced} fresh books; book updates in {stats['bookUpdatesIn']}")


async def collect_book_checksums(url, symbols, seconds, depth=10):
    """Every checksum a verifying client sees per symbol for `seconds`, after its snapshots."""
    mirror = BookMirror()
    seen = {symbol: set() for symbol in symbols}
    async with websockets.connect(url, compression=None, max_queue=None) as ws:
        assert json.loads(await ws.recv())["type"] == "welcome"
        await ws.send(json.dumps({"op": "subscribe", "id": 1, "channel": "book", "symbols": symbols, "depth": depth}))
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                m = json.loads(await asyncio.wait_for(ws.recv(), left))
            except asyncio.TimeoutError:
                break
            if m["type"] in ("book", "bookUpdate"):
                mirror.apply(m)
                seen[m["symbol"]].add(m["checksum"])
    return mirror, seen


def test_books_through_a_nats_cluster_agree_on_every_node_and_a_late_hub_warms_them(start_hub):
    """Books published on NATS (`feedsim publish --nats --books`) reach every hub; a hub that joins
    in the middle of the stream gets whole books from the warm-start answer, and a hub that
    simulates with `--publish-nats` feeds its books to the others. Every node's clients verify
    every checksum, and the nodes show the same books (the same checksums) and the same bars."""
    from cluster import NATSCluster, NATSPublisher
    nats = NATSCluster(1)
    try:
        early = start_hub("--feed", nats.url(0))
        publisher = NATSPublisher(nats.url(0), "--books", rate=1500, symbols=10)
        time.sleep(1.5)
        late = start_hub("--feed", nats.url(0))  # joins the books' streams in the middle
        for hub in (early, late):
            deadline = time.time() + 20
            while hub.get("/readyz")[0] != 200:
                assert time.time() < deadline, hub.log_text()[-2000:]
                time.sleep(0.1)
        symbols = early.get_json("/v1/symbols")[:5]
        # The publisher's instrument details reached both hubs (the late one through its warm start).
        for hub in (early, late):
            details = hub.get_json("/v1/instruments")
            assert len(details) == 10 and all(i.get("tickSize") == "0.0100" for i in details), details[:2]

        async def run():
            return await asyncio.gather(*(collect_book_checksums(hub.ws_url, symbols, 4.0) for hub in (early, late)))

        (early_mirror, early_seen), (late_mirror, late_seen) = asyncio.run(run())
        assert early_mirror.verified > 500 and late_mirror.verified > 500, (early_mirror.verified, late_mirror.verified)
        for symbol in symbols:
            common = early_seen[symbol] & late_seen[symbol]
            assert len(common) >= 0.8 * min(len(early_seen[symbol]), len(late_seen[symbol])), (symbol, len(common))
        late_stats = late.get_json("/stats")
        assert late_stats["bookUpdatesIn"] > 0 and late_stats["bookUpdatesRefused"] == 0, late_stats
        # Bars are cut by the trades' own ts, so both nodes build the same ones (the late node from
        # its first whole second on). A node stalled past a bar's 250 ms grace would close it by its
        # clock before a trade stamped in it arrived (docs/PROTOCOL.md, "Candles"), so the bars are
        # compared as the checksums are: most must be equal, and every one must be well formed.
        same = common = 0
        for symbol in symbols:
            early_bars = {b["start"]: b for b in early.get_json(f"/v1/candles?symbol={symbol}&interval=1s")["bars"] if b["closed"]}
            late_bars = [b for b in late.get_json(f"/v1/candles?symbol={symbol}&interval=1s")["bars"] if b["closed"]][1:]
            for bar in late_bars:
                if bar["start"] in early_bars:
                    common += 1
                    same += bar == early_bars[bar["start"]]
        assert common >= len(symbols) * 2 and same >= 0.8 * common, (same, common)
        print(f"late hub: {late_stats['bookUpdatesAwaitingBook']} book changes awaited a whole book before the warm-start answer")
        publisher.stop()

        # A simulating hub publishes its own books on NATS for a follower.
        source = start_hub("--symbols", "10", "--rate", "1500", "--publish-nats", nats.url(0))
        time.sleep(1)
        follower = start_hub("--feed", nats.url(0))
        deadline = time.time() + 20
        while follower.get("/readyz")[0] != 200:
            assert time.time() < deadline, follower.log_text()[-2000:]
            time.sleep(0.1)

        async def run_pair():
            return await asyncio.gather(*(collect_book_checksums(hub.ws_url, symbols, 3.0) for hub in (source, follower)))

        (_, source_seen), (follower_mirror, follower_seen) = asyncio.run(run_pair())
        assert follower_mirror.verified > 300
        for symbol in symbols:
            common = source_seen[symbol] & follower_seen[symbol]
            assert len(common) >= 0.8 * min(len(source_seen[symbol]), len(follower_seen[symbol])), (symbol, len(common))
    finally:
        nats.stop()
