"""Shared pieces of the fan-out tests."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from typing import Any

from bitmart_ws.fanout import FeedEntry, RedisFeed

FAST_CLIENT: dict[str, Any] = {
    "reconnect_delay": 0.02,
    "reconnect_max_delay": 0.1,
    "ack_timeout": 3.0,
    "connect_rate": (10_000, 60.0),
}
BOOK = "futures/depthIncrease20:BTCUSDT"


async def collect(
    feed: RedisFeed,
    topics: list[str],
    until: Callable[[list[FeedEntry]], bool],
    *,
    since: str | None = None,
    timeout: float = 20.0,  # noqa: ASYNC109
) -> list[FeedEntry]:
    """The update entries of ``topics`` read until ``until(entries)`` holds."""
    got: list[FeedEntry] = []
    async with asyncio.timeout(timeout):
        async for entry in feed.messages(topics, since=since):
            got.append(entry)
            if until(got):
                return got
    raise AssertionError("unreachable")


def versions(entries: list[FeedEntry]) -> list[int]:
    return [e.message()["data"]["version"] for e in entries]


def assert_contiguous(vs: list[int]) -> None:
    """Every version exactly once and in order (futures: each push is the previous + 1)."""
    assert vs, "nothing read"
    missing = sorted(set(range(vs[0], vs[-1] + 1)) - set(vs))
    assert vs == list(range(vs[0], vs[0] + len(vs))), f"gaps at {missing[:10]}, or duplicates/disorder"


async def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:  # noqa: ASYNC109
    """Wait for a condition of another process or task (polled), or fail after ``timeout``."""
    async with asyncio.timeout(timeout):
        for _ in itertools.count():
            if predicate():
                return
            await asyncio.sleep(0.01)
