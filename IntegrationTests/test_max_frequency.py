"""Per-subscription maximum frequency (`maxFrequency`), against a real hub with Python `websockets`
and with `feedsim swarm`: at most one message per symbol per interval, the latest value each time,
the skipped updates counted as `throttled` and equal to the seq gaps the client sees, while a
subscriber without a limit on the same hub still gets every update."""
import asyncio
import json
import tempfile
import time


from conftest import connect, feedsim

HOT = ["AAPL", "MSFT", "NVDA", "AMZN"]  # the simulator's busiest symbols


async def read_for(ws, seconds):
    """Every message that arrives within `seconds`, with its arrival time."""
    messages = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while (left := deadline - loop.time()) > 0:
        try:
            text = await asyncio.wait_for(ws.recv(), left)
        except asyncio.TimeoutError:
            break
        messages.append((time.monotonic(), json.loads(text)))
    return messages


async def stats(ws):
    """The connection's counters, and the messages that arrived before the answer."""
    await ws.send(json.dumps({"op": "stats", "id": 9}))
    before = []
    while True:
        message = json.loads(await asyncio.wait_for(ws.recv(), 5))
        if message["type"] == "stats":
            return message["counters"], before
        before.append((time.monotonic(), message))


def test_a_throttled_subscription_gets_the_latest_value_at_most_once_per_interval(start_hub):
    hub = start_hub("--symbols", "50", "--rate", "2000")

    async def run():
        (throttled, _), (live, _) = await connect(hub.ws_url), await connect(hub.ws_url)
        await throttled.send(json.dumps({"op": "subscribe", "id": 1, "symbols": HOT, "maxFrequency": 4}))
        await live.send(json.dumps({"op": "subscribe", "id": 1, "symbols": HOT}))
        throttled_messages, live_messages = await asyncio.gather(read_for(throttled, 3.0), read_for(live, 3.0))
        counters, late = await stats(throttled)
        throttled_messages += late
        await throttled.close()
        await live.close()
        return throttled_messages, live_messages, counters

    throttled_messages, live_messages, counters = asyncio.run(run())
    kinds = [m["type"] for _, m in throttled_messages]
    assert kinds[0] == "ack" and throttled_messages[0][1]["updateIntervalMs"] == 250
    assert kinds[1:5] == ["snapshot"] * 4
    updates = [(at, m) for at, m in throttled_messages if m["type"] == "conflated"]
    assert set(kinds[5:]) <= {"conflated", "heartbeat"}, "a throttled subscription only gets latest values"

    # At most one message per symbol per 250 ms: 3 s is at most 12 boundaries (13 with rounding).
    per_symbol = {s: [at for at, m in updates if m["symbol"] == s] for s in HOT}
    for symbol, times in per_symbol.items():
        assert 8 <= len(times) <= 14, (symbol, len(times))
        gaps = [b - a for a, b in zip(times, times[1:])]
        assert min(gaps) > 0.2, (symbol, gaps)  # boundaries are 250 ms apart; allow scheduling jitter

    # Seqs only rise; the gaps add up to what the hub counted as throttled (nothing was dropped).
    last = {m["symbol"]: m["seq"] for _, m in throttled_messages[1:5]}
    gaps = 0
    for _, m in updates:
        assert m["seq"] > last[m["symbol"]]
        gaps += m["seq"] - last[m["symbol"]] - 1
        last[m["symbol"]] = m["seq"]
    assert counters["dropped"] == 0 and counters["throttled"] == gaps > 0
    assert counters["delivered"] == len(updates)

    # The unthrottled subscriber on the same hub got every update of the same symbols.
    live_updates = [m for _, m in live_messages if m["type"] in ("quote", "trade")]
    assert len(live_updates) > 5 * len(updates)
    hub_stats = hub.get_json("/stats")
    assert hub_stats["throttled"] >= gaps and hub_stats["drops"] == 0


def test_resubscribing_without_a_limit_makes_updates_live_again(start_hub):
    hub = start_hub("--symbols", "50", "--rate", "2000")

    async def run():
        ws, _ = await connect(hub.ws_url)
        await ws.send(json.dumps({"op": "subscribe", "id": 1, "symbols": ["AAPL"], "maxFrequency": 0.5}))
        first = [m["type"] for _, m in await read_for(ws, 1.0) if m["type"] != "heartbeat"]
        assert first[:2] == ["ack", "snapshot"] and first[2:] in ([], ["conflated"])  # one boundary in 2 s
        await ws.send(json.dumps({"op": "subscribe", "id": 2, "symbols": ["AAPL"]}))
        after = await read_for(ws, 1.0)
        await ws.close()
        return after

    after = asyncio.run(run())
    ack = after[0][1]
    assert ack["type"] == "ack" and ack["id"] == 2 and "updateIntervalMs" not in ack
    assert sum(1 for _, m in after if m["type"] in ("quote", "trade")) > 20


def test_an_invalid_max_frequency_is_an_invalid_request(start_hub):
    hub = start_hub("--symbols", "50")

    async def run():
        ws, _ = await connect(hub.ws_url)
        answers = []
        for request_id, value in enumerate([0, -1, 5000, "fast"], start=1):
            await ws.send(json.dumps({"op": "subscribe", "id": request_id, "symbols": ["AAPL"], "maxFrequency": value}))
            answers.append(json.loads(await asyncio.wait_for(ws.recv(), 5)))
        counters, _ = await stats(ws)
        await ws.close()
        return answers, counters

    answers, counters = asyncio.run(run())
    for request_id, answer in enumerate(answers, start=1):
        assert answer["type"] == "error" and answer["code"] == "invalid_request" and answer["id"] == request_id
        assert "maxFrequency" in answer["message"]
    assert counters["subscriptions"] == 0  # nothing was subscribed


def test_a_throttled_swarm_sees_gaps_equal_to_what_the_hub_throttled(start_hub):
    hub = start_hub("--symbols", "100", "--rate", "500")
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        result = feedsim("swarm", "--url", hub.ws_url, "--clients", "200", "--subscribe", "5", "--max-frequency", "2",
                         "--duration", "3", "--warmup", "0.5", "--settle", "5", "--json", out.name)
        assert result.returncode == 0, result.stderr
        summary = json.load(open(out.name))
    accounting = summary["dropAccounting"]
    assert summary["connected"] == 200 and summary["config"]["maxFrequency"] == 2
    assert accounting["statsReplies"] == 200 and accounting["mismatches"] == 0
    assert accounting["hubThrottled"] > 0 and accounting["hubDropped"] == 0
    assert accounting["clientGaps"] == accounting["hubThrottled"]
    # 200 clients x 5 symbols at most 2 per second each.
    assert 0 < summary["messagesPerSecond"] <= 200 * 5 * 2 * 1.1
