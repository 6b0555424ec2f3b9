"""GET /metrics in the Prometheus text format, read with a real Prometheus parser, and /readyz."""
import time

from prometheus_client.parser import text_string_to_metric_families

from conftest import feedsim

EXPECTED = {
    "tickerhub_connections": "gauge",
    "tickerhub_subscriptions": "gauge",
    "tickerhub_ticks_in": "counter",
    "tickerhub_frames_encoded": "counter",
    "tickerhub_deliveries": "counter",
    "tickerhub_dropped": "counter",
    "tickerhub_conflated": "counter",
    "tickerhub_throttled": "counter",
    "tickerhub_evictions": "counter",
    "tickerhub_ring_laps": "counter",
    "tickerhub_compressed_bytes": "counter",
    "tickerhub_fanout_batch_seconds": "histogram",
    "tickerhub_process_cpu_seconds": "counter",
    "tickerhub_process_resident_memory_bytes": "gauge",
}


def scrape(hub) -> dict:
    status, body = hub.get("/metrics")
    assert status == 200
    return {family.name: family for family in text_string_to_metric_families(body)}


def value(family, suffix="", **labels):
    for sample in family.samples:
        if sample.name == family.name + suffix and all(sample.labels.get(k) == v for k, v in labels.items()):
            return sample.value
    raise AssertionError(f"no sample {family.name}{suffix} {labels}")


def test_metrics_parse_and_follow_the_hub(hub):
    import asyncio
    import json

    import websockets

    async def subscribe_for_a_while():
        async with websockets.connect(hub.ws_url) as ws:  # offers permessage-deflate
            await ws.recv()
            await ws.send(json.dumps({"op": "subscribe", "id": 1, "symbols": ["AAPL", "MSFT"]}))
            for _ in range(20):
                await ws.recv()
            first = scrape(hub)
            await asyncio.sleep(0.5)
            return first, scrape(hub)

    first, second = asyncio.run(subscribe_for_a_while())
    for name, kind in EXPECTED.items():
        assert name in second and second[name].type == kind, (name, second.get(name))
    # Counters only grow, and follow /stats.
    assert value(second["tickerhub_deliveries"], "_total") >= value(first["tickerhub_deliveries"], "_total") > 0
    assert value(second["tickerhub_ticks_in"], "_total") > value(first["tickerhub_ticks_in"], "_total")
    assert value(second["tickerhub_connections"]) >= 1 and value(second["tickerhub_subscriptions"]) >= 2
    assert value(second["tickerhub_compressed_bytes"], "_total", mode="deflate") > 0
    assert value(second["tickerhub_process_cpu_seconds"], "_total") > 0
    assert value(second["tickerhub_process_resident_memory_bytes"]) > 1 << 20
    stats = hub.get_json("/stats")
    assert stats["deliveries"] >= value(second["tickerhub_deliveries"], "_total")
    # The batch histogram saw drains, with cumulative buckets.
    histogram = second["tickerhub_fanout_batch_seconds"]
    assert value(histogram, "_count") > 0
    buckets = [s for s in histogram.samples if s.name.endswith("_bucket")]
    assert [s.value for s in buckets] == sorted(s.value for s in buckets) and buckets[-1].labels["le"] == "+Inf"


def test_readyz_follows_the_feed(start_hub):
    hub = start_hub("--feed", "ingest")
    status, body = hub.get("/readyz")
    assert status == 503 and "no ticks yet" in body
    assert hub.get("/healthz")[0] == 200
    result = feedsim("publish", "--url", f"ws://127.0.0.1:{hub.port}/ingest", "--count", "50", "--symbols", "5")
    assert result.returncode == 0, result.stderr
    assert hub.get("/readyz") == (200, "ready\n")
    sim = start_hub("--symbols", "5", "--rate", "50")
    deadline = time.time() + 5
    while sim.get("/readyz")[0] != 200:
        assert time.time() < deadline
        time.sleep(0.05)
