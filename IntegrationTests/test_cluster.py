"""Hub nodes past one machine's socket limit: three hubs fed through a real three-node NATS cluster
by `feedsim publish --nats`. Subscribers on any node see the same (symbol, seq, values); a hub killed
with SIGKILL loses its clients to the others, which converge to the latest values with what they
missed counted; a NATS server killed under a hub is failed over while subscribers are told the feed
went stale and live again; a restarted publisher is a new epoch every client sees."""
import asyncio
import json
import signal
import time

import pytest
import websockets

from cluster import NATSCluster, NATSPublisher

SYMBOLS = ["AAPL", "MSFT", "NVDA", "AMZN", "GOOGL"]


@pytest.fixture
def cluster():
    nats = NATSCluster(3)
    yield nats
    nats.stop()


def start_hubs(start_hub, nats, count=3, *args):
    """Hub i connects to NATS server i first; the others are its failover."""
    return [start_hub("--feed", nats.urls(i), *args) for i in range(count)]


def wait_ready(hubs, timeout=20):
    deadline = time.time() + timeout
    for hub in hubs:
        while hub.get("/readyz")[0] != 200:
            assert time.time() < deadline, f"{hub.ws_url} not ready: {hub.get('/readyz')}\n{hub.log_text()[-3000:]}"
            time.sleep(0.1)


async def subscriber(url, symbols=SYMBOLS):
    ws = await websockets.connect(url, compression=None, max_queue=None)
    welcome = json.loads(await ws.recv())
    assert welcome["type"] == "welcome"
    await ws.send(json.dumps({"op": "subscribe", "id": 1, "symbols": symbols}))
    return ws, welcome


async def collect(ws, seconds):
    """Every message for `seconds`: market ones keyed (symbol, seq) with their fields, others as is."""
    market, others = {}, []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            message = json.loads(await asyncio.wait_for(ws.recv(), left))
        except asyncio.TimeoutError:
            break
        if message["type"] in ("quote", "trade"):
            fields = {k: v for k, v in message.items() if k not in ("type", "symbol", "seq")}
            market[(message["symbol"], message["seq"])] = (message["type"], fields)
        else:
            others.append(message)
    return market, others


def test_subscribers_on_every_node_see_the_same_symbol_seq_and_values(start_hub, cluster):
    hubs = start_hubs(start_hub, cluster)
    assert all(hub.get("/readyz")[0] == 503 for hub in hubs), "not ready before any value arrived"
    publisher = NATSPublisher(cluster.url(0), rate=3000, symbols=50)
    wait_ready(hubs)

    async def run():
        connections = [await subscriber(hub.ws_url) for hub in hubs]
        seen = await asyncio.gather(*(collect(ws, 3.0) for ws, _ in connections))
        for ws, _ in connections:
            await ws.close()
        return [welcome for _, welcome in connections], [market for market, _ in seen]

    welcomes, markets = asyncio.run(run())
    publisher.stop()
    assert {w["epoch"] for w in welcomes} == {publisher.epoch}, "every node numbers under the publisher's epoch"
    assert {w["feed"] for w in welcomes} == {"nats"}
    common = set(markets[0]) & set(markets[1]) & set(markets[2])
    union = set(markets[0]) | set(markets[1]) | set(markets[2])
    assert len(common) > 500 and len(common) > 0.9 * len(union), (len(common), len(union))
    for key in common:
        assert markets[0][key] == markets[1][key] == markets[2][key], key
    # The epoch in every node's snapshots is the publisher's, and the nodes agree on the values.
    # The publisher is stopped, but what it sent last may still be on its way to a node (through
    # another cluster member): compare once every node holds the same last AAPL update.
    deadline = time.monotonic() + 10
    while True:
        snapshots = [hub.get_json("/v1/snapshot?symbols=AAPL")[0] for hub in hubs]
        if len({s["seq"] for s in snapshots}) == 1 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert {s["epoch"] for s in snapshots} == {publisher.epoch}
    assert len({json.dumps(s, sort_keys=True) for s in snapshots}) == 1, snapshots
    for hub in hubs:
        stats = hub.get_json("/stats")
        assert stats["feedWarm"] == 1 and stats["feedStale"] == 0 and stats["feedRejected"] == 0, stats
        assert stats["upstreamGaps"] == 0, "nothing lost on loopback"


def test_a_killed_hub_loses_its_clients_to_the_others_which_converge_with_every_gap_counted(start_hub, cluster):
    hubs = start_hubs(start_hub, cluster, 3, "--history", "1000")
    publisher = NATSPublisher(cluster.urls(0), rate=2000, symbols=50)
    wait_ready(hubs)
    urls = ",".join(hub.ws_url for hub in hubs)
    swarm_result = {}

    async def run():
        from tickerhub_client import TickerHubClient, Backoff
        # A library client that starts on the hub about to die.
        client = TickerHubClient([hubs[0].ws_url, hubs[1].ws_url, hubs[2].ws_url], backoff=Backoff(initial=0.1, maximum=0.5))
        await client.connect()
        await client.subscribe(SYMBOLS)
        swarm = await asyncio.create_subprocess_exec(
            str(__import__("conftest").BIN_DIR / "feedsim"), "swarm", "--url", urls, "--clients", "300", "--subscribe", "5",
            "--duration", "10", "--warmup", "1", "--settle", "5", "--threads", "1", "--json", "/tmp/tickerhub-cluster-swarm.json",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        await asyncio.sleep(5)
        hubs[0].stop(signal.SIGKILL)
        killed_at = time.monotonic()
        while client.connections < 2 and time.monotonic() - killed_at < 10:
            await asyncio.sleep(0.05)
        moved_after = time.monotonic() - killed_at
        out, err = await swarm.communicate()
        swarm_result["text"] = out.decode() + err.decode()
        # Hold the market still, then compare the client with a surviving node.
        publisher.stop()
        await asyncio.sleep(1.0)
        truth = {s["symbol"]: s for s in hubs[1].get_json("/v1/snapshot?symbols=" + ",".join(SYMBOLS))}
        state = {symbol: client.state[symbol] for symbol in SYMBOLS}
        await client.close()
        return client, moved_after, truth, state

    client, moved_after, truth, state = asyncio.run(run())
    assert client.connections == 2 and client.url != hubs[0].ws_url, "the client moved to another node"
    # Same epoch and seqs on every node: it resumed with `since` and got what it missed replayed.
    assert client.recoveries["recovered"] == len(SYMBOLS), client.recoveries
    assert sum(state[symbol].gaps for symbol in SYMBOLS) == 0, "recovered, nothing missed"
    assert moved_after < 5, moved_after
    for symbol in SYMBOLS:
        assert state[symbol].seq == truth[symbol]["seq"], (symbol, state[symbol], truth[symbol])
        for field in ("bid", "ask", "last"):
            assert state[symbol].fields.get(field) == truth[symbol].get(field), (symbol, field)
    summary = json.load(open("/tmp/tickerhub-cluster-swarm.json"))
    text = swarm_result["text"]
    assert summary["connected"] == 300 and summary["failed"] == 0, text
    assert summary["reconnects"] >= 90, text   # a third of the swarm was on the dead node
    assert summary["openAtEnd"] == 300, text
    assert summary["seqRegressions"] == 0, text
    assert summary["dropAccounting"]["mismatches"] == 0, text
    for hub in hubs[1:]:
        assert hub.process.poll() is None and hub.get("/healthz")[0] == 200, "the surviving nodes carried on"


def test_a_lost_nats_server_is_failed_over_and_subscribers_hear_the_feed_go_stale_and_live(start_hub, cluster):
    hubs = start_hubs(start_hub, cluster, 2)
    publisher = NATSPublisher(cluster.urls(0), rate=2000, symbols=50)
    wait_ready(hubs)

    async def run():
        from tickerhub_client import TickerHubClient
        feed_changes = []
        client = TickerHubClient(hubs[1].ws_url, on_feed=lambda feed, reason: feed_changes.append(feed))
        await client.connect()
        ws, _ = await subscriber(hubs[1].ws_url)
        messages = []

        async def read(seconds):
            deadline = time.monotonic() + seconds
            while (left := deadline - time.monotonic()) > 0:
                try:
                    messages.append(json.loads(await asyncio.wait_for(ws.recv(), left)))
                except asyncio.TimeoutError:
                    break

        await read(1.0)
        before = len(messages)
        cluster.kill(1)   # hub 1's NATS server
        await read(4.0)
        await ws.send(json.dumps({"op": "stats", "id": 9}))
        await read(1.0)
        await ws.close()
        await client.close()
        assert feed_changes == ["stale", "live"] and client.feed == "live", feed_changes
        return messages, before

    messages, before = asyncio.run(run())
    publisher.stop()
    statuses = [m for m in messages if m["type"] == "status"]
    assert [s["feed"] for s in statuses] == ["stale", "live"], statuses
    assert "NATS" in statuses[0]["reason"]
    updates = [m for m in messages if m["type"] in ("quote", "trade")]
    assert before > 100 and len(updates) - before > 500, "delivery continued through the other servers"
    stats = hubs[1].get_json("/stats")
    assert stats["feedUpstreamLosses"] == 1 and stats["feedStale"] == 0
    # What was missed while reconnecting is a visible gap, and the connection's counters account
    # for every one: dropped + throttled + upstream = the jumps this client saw.
    last, jumps = {}, 0
    for m in messages:
        if m["type"] in ("snapshot", "quote", "trade", "conflated"):
            if m["symbol"] in last and m["seq"] > last[m["symbol"]] + 1:
                jumps += m["seq"] - last[m["symbol"]] - 1
            last[m["symbol"]] = max(m["seq"], last.get(m["symbol"], 0))
    counters = next(m for m in messages if m["type"] == "stats")["counters"]
    assert counters["dropped"] + counters["throttled"] + counters["upstream"] == jumps, (counters, jumps)
    assert stats["upstreamGaps"] >= counters["upstream"]


def test_a_restarted_publisher_is_a_new_epoch_every_client_sees(start_hub, cluster):
    hubs = start_hubs(start_hub, cluster, 2)
    first = NATSPublisher(cluster.urls(0), rate=1000, symbols=20)
    wait_ready(hubs)

    async def run():
        from tickerhub_client import TickerHubClient, Backoff
        clients = [TickerHubClient(hub.ws_url, backoff=Backoff(initial=0.1, maximum=0.5)) for hub in hubs]
        for client in clients:
            await client.connect()
            await client.subscribe(SYMBOLS)
        raw, welcome = await subscriber(hubs[0].ws_url)
        await asyncio.sleep(1.0)
        old_epochs = [client.epoch for client in clients]
        first.stop()
        second = NATSPublisher(cluster.urls(1), rate=1000, symbols=20)
        try:
            await asyncio.wait_for(raw.wait_closed(), 10)
            close_code = raw.close_code
            deadline = time.monotonic() + 10
            while any(client.epoch != second.epoch for client in clients) and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            await asyncio.sleep(1.0)
            states = [{s: (c.state[s].epoch, c.state[s].seq, c.state[s].gaps) for s in SYMBOLS} for c in clients]
        finally:
            second.stop()
        for client in clients:
            await client.close()
        return welcome, close_code, old_epochs, second.epoch, [c.epoch for c in clients], states

    welcome, close_code, old_epochs, new_epoch, epochs, states = asyncio.run(run())
    assert welcome["epoch"] == first.epoch and old_epochs == [first.epoch, first.epoch]
    assert close_code == 1012, "subscribers of the old numbering are closed to re-base"
    assert epochs == [new_epoch, new_epoch]
    for state in states:
        for symbol, (epoch, seq, gaps) in state.items():
            assert epoch == new_epoch and seq < 1000, (symbol, epoch, seq)   # the new numbering
            assert gaps == 0, "a new epoch is not a gap"
    for hub in hubs:
        stats = hub.get_json("/stats")
        assert stats["feedEpochChanges"] == 1, stats
        assert hub.get_json("/v1/snapshot?symbols=AAPL")[0]["epoch"] == new_epoch


def test_a_simulating_hub_with_publish_nats_feeds_the_others(start_hub, cluster):
    source = start_hub("--symbols", "30", "--rate", "1500", "--publish-nats", cluster.urls(0))
    followers = start_hubs(start_hub, cluster, 2)
    wait_ready(followers)

    async def run():
        connections = [await subscriber(hub.ws_url) for hub in [source, *followers]]
        seen = await asyncio.gather(*(collect(ws, 2.0) for ws, _ in connections))
        for ws, _ in connections:
            await ws.close()
        return [welcome for _, welcome in connections], [market for market, _ in seen]

    welcomes, markets = asyncio.run(run())
    assert len({w["epoch"] for w in welcomes}) == 1, "the followers number under the simulating hub's epoch"
    common = set(markets[0]) & set(markets[1]) & set(markets[2])
    assert len(common) > 200, len(common)
    for key in common:
        assert markets[0][key] == markets[1][key] == markets[2][key], key


def test_nats_servers_that_require_a_token_feed_only_hubs_that_have_it(start_hub):
    nats = NATSCluster(1, token="cluster-s3cret")
    try:
        publisher = NATSPublisher(nats.url(0), "--nats-token", "cluster-s3cret", rate=500, symbols=20)
        with_token = start_hub("--feed", nats.url(0), "--nats-token", "cluster-s3cret")
        without = start_hub("--feed", nats.url(0))
        wait_ready([with_token])
        deadline = time.time() + 15
        while "Authorization Violation" not in without.log_text():
            assert time.time() < deadline, "the hub without the token was not refused by NATS"
            time.sleep(0.05)
        status, body = without.get("/readyz")
        assert status == 503 and "warming up" in body
        assert "Authorization Violation" in without.log_text()
        assert "nats-token=set" in with_token.log_text() and "cluster-s3cret" not in with_token.log_text()
        publisher.stop()
    finally:
        nats.stop()
