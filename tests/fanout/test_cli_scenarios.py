"""The commands as a user runs them: `bitmart-ws simulate`, two `bitmart-ws publish` processes (one killed
with SIGKILL), `bitmart-ws stream --from redis://...`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bitmart_ws.fanout import RedisFeed

from .helpers import BOOK, assert_contiguous, collect, versions
from .redis_server import RedisServer

CLI = str(Path(sys.executable).parent / "bitmart-ws")


@pytest.fixture
def simulate() -> Iterator[str]:
    """A `bitmart-ws simulate` process; yields the URL line it prints."""
    proc = subprocess.Popen([CLI, "simulate", "--cadence", "0.005"], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        yield proc.stdout.readline().strip()
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(10)
        assert proc.stdout is not None
        proc.stdout.close()


def start_publisher(urls: str, redis_url: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [CLI, "publish", BOOK, "--redis", redis_url, "--urls", urls],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )


async def test_two_publishers_one_killed_with_sigkill_nothing_lost_nothing_twice(
    redis_server: RedisServer, simulate: str
):
    a = start_publisher(simulate, redis_server.url)
    b = start_publisher(simulate, redis_server.url)
    try:
        async with RedisFeed(redis_server.url) as feed:
            first = await collect(feed, [BOOK], lambda got: len(got) >= 300, since="0-0", timeout=30)
            os.kill(a.pid, signal.SIGKILL)  # at any moment: mid-batch, mid-frame
            a.wait(10)
            after = first[-1].entry_id
            rest = await collect(feed, [BOOK], lambda got: len(got) >= 500, since=after, timeout=30)
            raw = await feed.redis.xlen(feed.key(BOOK))
    finally:
        for p in (a, b):
            if p.poll() is None:
                os.kill(p.pid, signal.SIGTERM)
                p.wait(10)
    vs = versions(first + rest)
    assert_contiguous(vs)
    assert raw >= len(vs)  # the stream itself holds each version once (plus snapshot entries)


async def test_stream_from_redis_prints_the_published_json_lines(redis_server: RedisServer, simulate: str):
    p = start_publisher(simulate, redis_server.url)
    try:
        async with RedisFeed(redis_server.url) as feed:
            await collect(feed, [BOOK], lambda got: len(got) >= 20, since="0-0", timeout=30)
        out = subprocess.run(  # noqa: ASYNC221 (the consumer runs as a user runs it)
            [CLI, "stream", "--from", redis_server.url, "--since", "0", "--count", "20", BOOK],
            capture_output=True,
            text=True,
            timeout=30,
        )
    finally:
        os.kill(p.pid, signal.SIGTERM)
        p.wait(10)
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert len(lines) == 20 and all(m["group"] == BOOK and m["wsKey"] == "futuresPublicV2" for m in lines)
    vs = [m["data"]["version"] for m in lines]
    assert vs == list(range(vs[0], vs[0] + 20))


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(
    ("args", "status", "says"),
    [
        (["publish", "spot/ticker:BTC_USDT", "--redis", "notaurl", "--seconds", "2"], 2, "not a Redis URL"),
        (["stream", "--from", "notaurl", "spot/ticker:BTC_USDT", "--seconds", "2"], 2, "not a Redis URL"),
        (
            ["stream", "--from", "redis://127.0.0.1:{port}/0", "spot/ticker:BTC_USDT", "--seconds", "5"],
            1,
            "cannot reach redis",
        ),
        (
            ["publish", "spot/ticker:BTC_USDT", "--redis", "redis://127.0.0.1:{port}/0", "--seconds", "2"],
            1,
            "not written",
        ),
    ],
)
def test_redis_mistakes_and_outages_are_one_line_and_a_status(
    args: list[str], status: int, says: str
) -> None:
    port = _closed_port()
    done = subprocess.run(
        [CLI, *(a.format(port=port) for a in args)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == status, done.stderr
    assert says in done.stderr and "Traceback" not in done.stderr
    assert done.stdout == ""
