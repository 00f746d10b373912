"""``publish`` (topics to Redis Streams) and ``stream --from redis://...`` (read them back)."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

import msgspec

from ..client import WebsocketClient
from ..exceptions import ConfigurationError, ConnectError
from ._console import Console
from ._jobs import STATUS_EVERY, _every, client_options, run_until

__all__ = ["publish", "stream_from"]


def _fanout() -> Any:
    try:
        from .. import fanout
    except ImportError:
        raise ConfigurationError("Redis support is missing: pip install 'bitmart-ws[redis]'") from None
    return fanout


async def publish(args: argparse.Namespace, console: Console) -> int:
    """``publish TOPIC... --redis URL``: every update appended to one Redis stream per topic."""
    fanout = _fanout()

    def on_event(name: str, payload: dict[str, Any]) -> None:
        if name == "dropped":
            console.notice(f"buffer full ({payload['max_buffer']}): {payload['dropped']} message(s) dropped")
        elif name == "sink_down":
            console.notice(f"redis unavailable, buffering ({payload['buffered']} queued): {payload['error']}")
        elif name == "sink_up":
            console.notice(f"redis back after {payload['downtime']:.1f} s")

    publishers: list[Any] = []

    async def work() -> None:
        async with client_options(args, args.topics, console) as options:
            sink = fanout.RedisSink(args.redis, prefix=args.prefix, maxlen=args.maxlen)
            async with WebsocketClient(**options) as client:
                publisher = fanout.Publisher(
                    client, args.topics, sink, max_buffer=args.buffer, on_event=on_event
                )
                publishers.append(publisher)

                def status() -> None:
                    s = publisher.stats
                    console.status(
                        f"{s.received} received, {s.written} written, {s.duplicates} duplicate(s), "
                        f"{s.buffered} buffered, {s.dropped} dropped, redis {'up' if s.sink_up else 'DOWN'}"
                    )

                async with publisher, _every(STATUS_EVERY, status):
                    console.info(f"publishing {', '.join(args.topics)} to {args.prefix}<topic>")
                    await _forever()

    await run_until(args.seconds, work)
    if not publishers:
        return 1
    stats = publishers[0].stats
    if stats.dropped or stats.buffered or not stats.sink_up:
        console.notice(
            f"{stats.buffered} message(s) not written, {stats.dropped} dropped: "
            f"redis {'up' if stats.sink_up else 'unavailable'} at the end"
        )
        return 1
    return 0


async def _forever() -> None:
    await asyncio.Event().wait()


async def stream_from(args: argparse.Namespace, console: Console) -> int:
    """``stream --from redis://... TOPIC...``: the same JSON lines as from BitMart, read from Redis."""
    fanout = _fanout()
    from redis.exceptions import RedisError  # installed with the [redis] extra, as fanout is

    since = fanout.parse_since(args.since) if args.since else None
    pretty = args.format == "pretty"
    count = 0

    async def work() -> None:
        nonlocal count
        async with fanout.RedisFeed(args.from_url, prefix=args.prefix) as feed:
            try:
                await feed.redis.ping()
            except (RedisError, OSError) as exc:
                raise ConnectError(f"cannot reach redis: {exc}") from None
            async for entry in feed.messages(args.topics, since=since):
                text = entry.payload
                console.message((msgspec.json.format(text, indent=2) if pretty else text).decode())
                count += 1
                if console.stdout_closed or (args.count is not None and count >= args.count):
                    return

    await run_until(args.seconds, work)
    return 0
