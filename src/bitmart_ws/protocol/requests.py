"""Builders of every client-to-server frame, in both dialects.

All frames are UTF-8 text payloads returned as ``bytes``. Spot speaks ``{"op":..., "args":[...]}``,
futures ``{"action":..., "args":[...]}``; key order and the absence of whitespace match BitMart's
official clients.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from enum import StrEnum

import msgspec

from ..exceptions import ConfigurationError
from .keys import Market

__all__ = [
    "MAX_FRAME_BYTES",
    "MAX_TOPICS_PER_REQUEST",
    "Operation",
    "login_frame",
    "ping_frame",
    "request_frame",
    "subscription_frames",
]

MAX_TOPICS_PER_REQUEST = 20
"""BitMart's limit of topics in one subscribe/unsubscribe frame (spot error 90005)."""

MAX_FRAME_BYTES: dict[Market, int] = {Market.SPOT: 4096, Market.FUTURES: 2000}
"""Largest frame we send: spot's documented 4096-byte args limit; futures closes with 1009 above 2048."""

_encode = msgspec.json.Encoder().encode
_VERB = {Market.SPOT: "op", Market.FUTURES: "action"}
_SPOT_PING = b"ping"
_FUTURES_PING = b'{"action":"ping"}'


class Operation(StrEnum):
    SUBSCRIBE = "subscribe"
    UNSUBSCRIBE = "unsubscribe"


def _frame(market: Market, verb: str, args: Sequence[str]) -> bytes:
    # A dict keeps insertion order, so the verb always comes first, as BitMart's clients send it.
    return _encode({_VERB[market]: verb, "args": list(args)})


def subscription_frames(
    market: Market,
    operation: Operation,
    topics: Iterable[str],
    *,
    per_frame: int = MAX_TOPICS_PER_REQUEST,
    max_bytes: int | None = None,
) -> list[tuple[tuple[str, ...], bytes]]:
    """Split ``topics`` into subscribe/unsubscribe frames of at most ``per_frame`` topics and ``max_bytes``.

    Returns:
        ``(topics_in_frame, frame)`` pairs, in the order of ``topics``.
    """
    if not 1 <= per_frame <= MAX_TOPICS_PER_REQUEST:
        raise ConfigurationError(f"per_frame must be between 1 and {MAX_TOPICS_PER_REQUEST}, not {per_frame}")
    limit = MAX_FRAME_BYTES[market] if max_bytes is None else max_bytes
    frames: list[tuple[tuple[str, ...], bytes]] = []
    batch: list[str] = []
    for topic in topics:
        candidate = [*batch, topic]
        if len(candidate) > per_frame or (batch and len(_frame(market, operation, candidate)) > limit):
            frames.append((tuple(batch), _frame(market, operation, batch)))
            candidate = [topic]
        if len(_frame(market, operation, candidate)) > limit:
            raise ConfigurationError(f"topic {topic!r} alone makes a frame larger than {limit} bytes")
        batch = candidate
    if batch:
        frames.append((tuple(batch), _frame(market, operation, batch)))
    return frames


def login_frame(market: Market, api_key: str, timestamp_ms: int, signature: str) -> bytes:
    """The login frame.

    Spot: ``{"op":"login","args":[key,ts,sign]}``;
    futures: ``{"action":"access","args":[key,ts,sign,"web"]}``.
    """
    if market is Market.SPOT:
        return _frame(market, "login", [api_key, str(timestamp_ms), signature])
    return _frame(market, "access", [api_key, str(timestamp_ms), signature, "web"])


def ping_frame(market: Market) -> bytes:
    """The application heartbeat: the bare text ``ping`` on spot, ``{"action":"ping"}`` on futures."""
    return _SPOT_PING if market is Market.SPOT else _FUTURES_PING


def request_frame(market: Market, topic: str) -> bytes:
    """A one-shot snapshot request (incremental depth books, futures funding rate)."""
    return _frame(market, "request", [topic])
