"""Ingest mode fed by `feedsim publish`, and `feedsim swarm`, as real processes."""
import asyncio
import json
import tempfile

import pytest
import websockets

from conftest import SeqChain, feedsim


def test_ingest_symbols_appear_and_every_subscriber_converges_to_the_final_seq(start_hub):
    hub = start_hub("--feed", "ingest")
    assert hub.get_json("/v1/symbols") == []
    ingest = f"ws://127.0.0.1:{hub.port}/ingest"

    first = feedsim("publish", "--url", ingest, "--count", "400", "--symbols", "20", "--rate", "20000")
    assert first.returncode == 0, first.stderr
    assert "published 400 ticks" in first.stdout
    symbols = hub.get_json("/v1/symbols")
    assert 1 <= len(symbols) <= 20

    async def run():
        subscribers = []
        for _ in range(3):
            ws = await websockets.connect(hub.ws_url, compression=None)
            assert json.loads(await ws.recv())["feed"] == "ingest"
            await ws.send(json.dumps({"op": "subscribe", "id": 1, "symbols": symbols}))
            subscribers.append(ws)
        last = [SeqChain() for _ in subscribers]
        # Snapshots first.
        for ws, chain in zip(subscribers, last):
            ack = json.loads(await ws.recv())
            assert ack["type"] == "ack"
            for _ in symbols:
                snapshot = json.loads(await ws.recv())
                assert snapshot["type"] == "snapshot"
                chain.see(snapshot)

        publisher = await asyncio.create_subprocess_exec(
            str(__import__("conftest").BIN_DIR / "feedsim"), "publish", "--url", ingest, "--count", "5000",
            # A rate Python clients keep up with: this test is about ingest and sequencing, not about
            # slow consumers (dropping and conflation are covered by their own tests).
            "--symbols", "20", "--rate", "2000", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)

        async def drain(ws, chain):
            # Quiet means no *update* for 1.5 s.
            loop = asyncio.get_running_loop()
            last_update = loop.time()
            while loop.time() - last_update < 1.5:
                try:
                    m = json.loads(await asyncio.wait_for(ws.recv(), 0.5))
                except asyncio.TimeoutError:
                    continue
                if chain.see(m):
                    last_update = loop.time()

        await asyncio.gather(*(drain(ws, chain) for ws, chain in zip(subscribers, last)))
        out, err = await publisher.communicate()
        assert publisher.returncode == 0, err
        for ws in subscribers:
            await ws.close()
        return last

    last = asyncio.run(run())
    final = {s["symbol"]: s["seq"] for s in hub.get_json("/v1/snapshot")}
    assert sum(final.values()) == 5400
    for chain in last:
        assert {s: chain.last[s] for s in final} == final
    stats = hub.get_json("/stats")
    assert stats["ticksIn"] == 5400 and stats["ingestBatches"] >= 2
    assert stats["drops"] == 0


def test_list_pages_through_a_large_ingest_directory(start_hub):
    # Issue 13, defect 6: one `list` answer with every symbol of a large ingest feed could pass the
    # backlog's hard limit and get a polite client evicted. Answers now come in pages of 1,000.
    hub = start_hub("--feed", "ingest")
    ingest = f"ws://127.0.0.1:{hub.port}/ingest"
    published = feedsim("publish", "--url", ingest, "--count", "40000", "--symbols", "3000", "--rate", "100000")
    assert published.returncode == 0, published.stderr
    everything = hub.get_json("/v1/symbols")
    assert len(everything) > 2000

    async def run():
        ws = await websockets.connect(hub.ws_url, compression=None)
        await ws.recv()  # welcome
        listed, after, pages = [], None, 0
        while True:
            request = {"op": "list", "id": pages}
            if after is not None:
                request["after"] = after
            await ws.send(json.dumps(request))
            page = json.loads(await ws.recv())
            assert page["type"] == "symbols" and page["id"] == pages and len(page["symbols"]) <= 1000
            listed += page["symbols"]
            pages += 1
            if "next" not in page:
                break
            assert page["next"] == page["symbols"][-1]
            after = page["next"]
        assert sorted(listed) == sorted(everything) and len(listed) == len(set(listed))
        assert pages == (len(everything) + 999) // 1000
        await ws.send(json.dumps({"op": "list", "id": 9, "after": "NOSUCHSYMBOL"}))
        error = json.loads(await ws.recv())
        assert error["type"] == "error" and error["code"] == "unknown_symbol" and error["id"] == 9
        await ws.close()

    asyncio.run(run())
    assert hub.get_json("/stats")["slowConsumerEvictions"] == 0


def test_ingest_rejects_garbage_with_a_close_code(start_hub):
    hub = start_hub("--feed", "ingest")

    async def run(message, expected_code):
        ws = await websockets.connect(f"ws://127.0.0.1:{hub.port}/ingest", compression=None)
        await ws.send(message)
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 5)
        assert closed.value.rcvd.code == expected_code

    asyncio.run(run(b"\x00\x01garbage", 1007))
    asyncio.run(run("text is not ticks", 1003))
    assert hub.get_json("/stats")["ingestRejected"] == 2


def test_ingest_is_refused_in_sim_mode(hub):
    async def run():
        with pytest.raises(websockets.InvalidStatus) as refused:
            await websockets.connect(f"ws://127.0.0.1:{hub.port}/ingest")
        assert refused.value.response.status_code == 426
    asyncio.run(run())


def test_swarm_measures_a_gapless_run(start_hub):
    # A load a debug build on two cores carries comfortably: the point is the tool, not capacity.
    hub = start_hub("--symbols", "100", "--rate", "200")
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        result = feedsim("swarm", "--url", hub.ws_url, "--clients", "200", "--subscribe", "5",
                         "--duration", "2", "--warmup", "0.5", "--json", out.name)
        assert result.returncode == 0, result.stderr
        summary = json.load(open(out.name))
    assert summary["connected"] == 200 and summary["failed"] == 0 and summary["openAtEnd"] == 200
    assert summary["updates"] > 500 and summary["messagesPerSecond"] > 0
    assert summary["gapMessages"] == 0 and summary["errors"] == 0
    assert 0 <= summary["latencyMs"]["p50"] <= summary["latencyMs"]["p99"] <= summary["latencyMs"]["max"]
    assert "latency ms" in result.stdout


def test_the_tick_script_the_peers_replay_is_the_hubs_own_market(start_hub, tmp_path):
    """`feedsim ticks` writes what tickerhub's simulator publishes with the same universe and seed,
    so a benchmark's peers (which replay the script) offer their clients the very same updates:
    here every update a subscriber gets is, byte for byte apart from `ts`, the script's line for
    that symbol and seq."""
    script = tmp_path / "ticks.txt"
    result = feedsim("ticks", "--symbols", "5", "--seed", "7", "--count", "20000", "--out", str(script))
    assert result.returncode == 0, result.stderr
    lines = script.read_text().splitlines()
    names = lines[0].split(" ")[1:]
    assert len(names) == 5
    # For each symbol, its messages' (type, fields) by seq: the opening quote is seq 1.
    by_seq = {name: [None] for name in names}
    for line in lines[1:]:
        kind, index, fields = line.split(" ", 2)
        by_seq[names[int(index)]].append((kind, fields))

    hub = start_hub("--symbols", "5", "--seed", "7", "--rate", "400")

    async def run():
        async with websockets.connect(hub.ws_url, compression=None) as ws:
            assert json.loads(await ws.recv())["type"] == "welcome"
            await ws.send(json.dumps({"op": "subscribe", "id": 1, "symbols": names}))
            checked = 0
            while checked < 400:
                text = await asyncio.wait_for(ws.recv(), timeout=10)
                message = json.loads(text)
                if message["type"] not in ("quote", "trade"):
                    continue
                kind, fields = by_seq[message["symbol"]][message["seq"]]
                assert message["type"] == kind
                expected = (f'{{"type":"{kind}","symbol":"{message["symbol"]}","seq":{message["seq"]},'
                            f'"ts":{message["ts"]},{fields}}}')
                assert text == expected
                checked += 1

    asyncio.run(run())
