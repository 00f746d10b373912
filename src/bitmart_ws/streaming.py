"""Streaming, recording and replaying topics: the work behind the ``bitmart-ws`` command.

Nothing here prints: every function takes a ``sink`` that receives one JSON line per message, and
an optional ``notice`` for human-readable lifecycle lines. The CLI decides where they go.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from typing import IO, Any

import msgspec

from .client import WebsocketClient
from .protocol import WsKey
from .simulator import DEFAULT_ACCOUNT, Simulator, SimulatorConfig

__all__ = ["DEMO_TOPICS", "demo", "embedded_simulator", "replay", "stream"]

logger = logging.getLogger("bitmart_ws.streaming")

Sink = Callable[[str], None]

DEMO_TOPICS: tuple[str, ...] = (
    "spot/ticker:BTC_USDT",
    "spot/depth5:BTC_USDT",
    "spot/trade:BTC_USDT",
    "spot/user/order:BTC_USDT",
    "spot/user/balance:BALANCE_UPDATE",
    "futures/ticker:BTCUSDT",
    "futures/depth20:BTCUSDT",
    "futures/asset:USDT",
    "futures/position",
    "futures/order",
)
"""Spot and futures, public and private: what ``bitmart-ws demo`` streams from the simulator."""

_encode = msgspec.json.Encoder().encode


def _json_line(message: Mapping[str, Any]) -> str:
    return _encode(message).decode()


@contextlib.asynccontextmanager
async def embedded_simulator(
    cadence: float = 0.25, notice: Sink | None = None
) -> AsyncIterator[dict[str, Any]]:
    """Run a simulator on loopback; yields :class:`WebsocketClient` options that point at it.

    The options carry the simulator's URLs and its default account, so private topics work too.
    """
    config = SimulatorConfig(cadence=cadence, account_interval=max(cadence, 0.5))
    async with Simulator(config) as sim:
        if notice is not None:
            notice(f"simulator serving {_json_line(sim.urls)}")
        yield {
            "ws_urls": {WsKey(k): v for k, v in sim.urls.items()},
            "api_key": DEFAULT_ACCOUNT.api_key,
            "api_secret": DEFAULT_ACCOUNT.api_secret,
            "api_memo": DEFAULT_ACCOUNT.api_memo,
        }


async def stream(
    topics: Iterable[str],
    sink: Sink,
    *,
    seconds: float | None = None,
    notice: Sink | None = None,
    record: IO[str] | None = None,
    client_options: Mapping[str, Any] | None = None,
) -> int:
    """Subscribe to ``topics`` and send every ``update`` to ``sink`` as a JSON line.

    Args:
        topics: topics of any market; each is routed to its connection.
        sink: receives one JSON line (no newline) per update.
        seconds: stop after this long; ``None`` runs until cancelled.
        notice: receives a readable line per lifecycle event (open, authenticated, reconnect, exception...).
        record: a text file that receives ``{"ts": <ms>, "msg": {...}}`` lines, replayable by :func:`replay`.
        client_options: keyword arguments of :class:`WebsocketClient` (URLs, credentials...).

    Returns:
        The number of updates received.
    """
    count = 0

    def on_update(message: dict[str, Any]) -> None:
        nonlocal count
        count += 1
        sink(_json_line(message))
        if record is not None:
            record.write(_json_line({"ts": int(time.time() * 1000), "msg": message}) + "\n")

    async with WebsocketClient(**dict(client_options or {})) as client:
        client.on("update", on_update)
        if notice is not None:
            _wire_notices(client, notice)
        await client.subscribe_topics(list(topics))
        if seconds is None:
            await asyncio.Event().wait()
        else:
            await asyncio.sleep(seconds)
    return count


def _wire_notices(client: WebsocketClient, notice: Sink) -> None:
    def describe(name: str) -> Callable[[dict[str, Any]], None]:
        def handler(event: dict[str, Any]) -> None:
            facts = {k: v for k, v in event.items() if k not in ("wsKey", "error") and _is_plain(v)}
            notice(f"{name} {event.get('wsKey', '')} {_json_line(facts)}")

        return handler

    for name in ("open", "authenticated", "reconnect", "reconnected", "exception", "close"):
        client.on(name, describe(name))


def _is_plain(value: Any) -> bool:
    return isinstance(value, str | int | float | bool | type(None) | list | dict)


async def demo(
    sink: Sink, *, seconds: float = 5.0, notice: Sink | None = None, record: IO[str] | None = None
) -> int:
    """Start the embedded simulator and stream :data:`DEMO_TOPICS` from it for ``seconds``."""
    async with embedded_simulator(notice=notice) as options:
        return await stream(
            DEMO_TOPICS, sink, seconds=seconds, notice=notice, record=record, client_options=options
        )


async def replay(source: IO[str], sink: Sink, *, speed: float = 0.0) -> int:
    """Send the messages of a recording to ``sink``.

    Args:
        source: lines written by :func:`stream`'s ``record``.
        speed: ``0`` replays as fast as possible; ``1.0`` at the recorded pace; ``2.0`` twice as fast.

    Returns:
        The number of messages replayed. Lines that are not records are skipped with a warning.
    """
    count = 0
    previous: int | None = None
    for number, line in enumerate(source, 1):
        if not line.strip():
            continue
        try:
            entry = msgspec.json.decode(line)
            ts, message = int(entry["ts"]), entry["msg"]
        except (msgspec.DecodeError, KeyError, TypeError, ValueError):
            logger.warning("line %d is not a recorded message; skipped", number)
            continue
        if speed > 0 and previous is not None and ts > previous:
            await asyncio.sleep((ts - previous) / 1000 / speed)
        previous = ts
        sink(_json_line(message))
        count += 1
    return count
