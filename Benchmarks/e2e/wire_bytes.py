#!/usr/bin/env python3
"""Bytes on the wire per market-data update, by compression mode, on the simulated JSON ticks.

Starts a release `tickerhub` per mode, subscribes one raw client to every symbol, and averages the
size of N update frames as they arrive (header included), plus the plain JSON they decode to.

    .venv/bin/python Benchmarks/e2e/wire_bytes.py --updates 5000   # needs `zstandard` (make test's venv has it)
"""
import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "IntegrationTests"))
from rawws import RawWebSocket  # noqa: E402

MODES = {
    "off": (["--deflate", "off"], None),
    "deflate shared": (["--deflate", "shared"], "permessage-deflate; client_max_window_bits"),
    "deflate dedicated": (["--deflate", "dedicated"], "permessage-deflate; client_max_window_bits"),
    "zstd dictionary": ([], "zstd"),
}


def measure(mode: str, updates: int, rate: int) -> dict:
    flags, offer = MODES[mode]
    log = tempfile.NamedTemporaryFile(suffix=".log", delete=False)
    hub = subprocess.Popen([str(ROOT / ".build/release/tickerhub"), "--port", "0", "--rate", str(rate), *flags],
                           stdout=log, stderr=subprocess.STDOUT)
    try:
        while not (match := re.search(r"address=127\.0\.0\.1:(\d+)", Path(log.name).read_text())):
            time.sleep(0.05)
        port = int(match.group(1))
        symbols = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/symbols"))
        zstd = offer == "zstd"
        ws = RawWebSocket(port, extensions=None if zstd else offer, subprotocol="tickerhub.v1.zstd" if zstd else None)
        decompress = None
        if zstd:
            import zstandard
            opcode, first = ws.recv_frame()
            dict_id = zstandard.get_frame_parameters(first).dict_id
            raw = urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/zstd/dictionary/{dict_id}").read()
            decompress = zstandard.ZstdDecompressor(dict_data=zstandard.ZstdCompressionDict(raw)).decompress
        else:
            ws.recv_json()
        ws.send_json({"op": "subscribe", "id": 1, "symbols": symbols})
        wire = plain = count = 0
        while count < updates:
            opcode, payload = ws.recv_frame()
            header = 2 if len(payload) < 126 else 4
            if decompress:
                text = decompress(payload)
            else:
                text = ws.inflater.decompress(payload + b"\x00\x00\xff\xff") if ws.last_rsv1 else payload
            if json.loads(text)["type"] in ("quote", "trade"):
                wire += header + len(payload)
                plain += (2 if len(text) < 126 else 4) + len(text)
                count += 1
        ws.close()
        return {"mode": mode, "updates": count, "wireBytesPerUpdate": round(wire / count, 1),
                "plainBytesPerUpdate": round(plain / count, 1), "ratio": round(wire / plain, 3)}
    finally:
        hub.terminate()
        hub.wait()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--updates", type=int, default=5000)
    parser.add_argument("--rate", type=int, default=2000)
    args = parser.parse_args()
    results = [measure(mode, args.updates, args.rate) for mode in MODES]
    print("| mode | bytes on the wire per update | plain frame | share of plain |")
    print("|---|---|---|---|")
    for r in results:
        print(f"| {r['mode']} | {r['wireBytesPerUpdate']} | {r['plainBytesPerUpdate']} | {r['ratio'] * 100:.1f}% |")
    # Kept with the harness runs' raw results, so every measurement has one home.
    with open(Path(__file__).with_name("history.jsonl"), "a") as out:
        for r in results:
            out.write(json.dumps({"label": "wire bytes", **r}) + "\n")


if __name__ == "__main__":
    main()
