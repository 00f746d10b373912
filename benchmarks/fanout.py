"""Publish throughput into a local redis-server, next to the floor: a bare redis-py pipeline doing the
same writes (XADD of the same entries, no dedup). ``python -m benchmarks.fanout`` (needs redis-server).

Target: at least 50,000 updates/s through the publisher's writer (dedup script included).
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import tempfile
import time
from typing import Any

import msgspec
import redis.asyncio as aioredis

from bitmart_ws.fanout.dedup import rule_for
from bitmart_ws.fanout.redis_sink import RedisSink
from bitmart_ws.fanout.sink import Entry

N = 200_000
BATCH = 2000
TOPIC = "futures/depthIncrease20:BTCUSDT"


def messages() -> list[dict[str, Any]]:
    return [
        {
            "group": TOPIC,
            "data": {
                "symbol": "BTCUSDT",
                "type": "update",
                "version": v,
                "ms_t": 1_700_000_000_000 + v,
                "asks": [{"price": "65000.1", "vol": str(v % 97)}],
                "bids": [{"price": "64999.9", "vol": "3"}],
            },
            "wsKey": "futuresPublicV2",
        }
        for v in range(1, N + 1)
    ]


async def publisher_path(url: str, msgs: list[dict[str, Any]]) -> float:
    """What the publisher's writer does per batch: encode, dedup id, the sink's script."""
    sink = RedisSink(url, prefix="bench:p:")
    rule, encode = rule_for(TOPIC), msgspec.json.Encoder().encode
    start = time.perf_counter()
    for i in range(0, len(msgs), BATCH):
        entries = []
        for m in msgs[i : i + BATCH]:
            payload = encode(m)
            entries.append(Entry(TOPIC, payload, 1, rule.key(m["data"], payload), rule.mode))
        await sink.write(entries)
    elapsed = time.perf_counter() - start
    await sink.close()
    return len(msgs) / elapsed


async def floor(url: str, msgs: list[dict[str, Any]]) -> float:
    """A bare pipeline of XADDs of the same JSON (no dedup)."""
    r = aioredis.Redis.from_url(url)
    encode = msgspec.json.Encoder().encode
    start = time.perf_counter()
    for i in range(0, len(msgs), BATCH):
        pipe = r.pipeline(transaction=False)
        for m in msgs[i : i + BATCH]:
            pipe.xadd("bench:f:" + TOPIC, {"msg": encode(m), "recv": 1}, maxlen=100_000, approximate=True)
        await pipe.execute()
    elapsed = time.perf_counter() - start
    await r.aclose()
    return len(msgs) / elapsed


def main() -> None:
    binary = shutil.which("redis-server")
    if binary is None:
        print("redis-server is not installed (apt-get install -y redis-server)")
        return
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with tempfile.TemporaryDirectory() as work:
        proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                work,
            ],
            stdout=subprocess.DEVNULL,
        )
        try:
            url = f"redis://127.0.0.1:{port}/0"
            for _ in range(200):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                    break
                except OSError:
                    time.sleep(0.05)
            msgs = messages()
            base = asyncio.run(floor(url, msgs))
            ours = asyncio.run(publisher_path(url, msgs))
            print(f"fanout publish: {ours:,.0f} updates/s (dedup + XADD, batches of {BATCH})")
            print(f"fanout floor:   {base:,.0f} updates/s (bare redis-py pipeline of XADD)")
            verdict = "met" if ours >= 50_000 else "NOT met"
            print(f"ratio {ours / base:.2f}; target >= 50,000 updates/s: {verdict}")
        finally:
            proc.terminate()
            proc.wait(10)


if __name__ == "__main__":
    main()
