"""Dedup ids derived from the exchange's own fields, never from arrival time (pure).

Two publishers receive the same pushes from BitMart; each entry carries a :class:`DedupId` so that the
engine keeps the first copy only. One table, :data:`DEDUP_RULES`, says per channel family which field
identifies a push and how exactly:

* ``ORDERED`` (exact): a field that strictly increases per topic: the ``version`` of an incremental
  book, the ``trade_id`` of futures trades. An entry is kept only when its ``seq`` is above the last
  kept one, so the stream is also in the exchange's order. ``EXACT`` coverage.
* ``HASHED`` (approximate): no such field. The id is the push's exchange timestamp (``ms_t``, ``ts``,
  ``event_time``, ``update_time``, ``s_t``; 0 when there is none) plus a hash of its content; a copy
  whose id is among the topic's recent ids (:data:`RECENT_IDS`) is dropped. Two genuinely different
  pushes that are byte-identical (an unchanged ticker without a timestamp) collapse into one, and a
  publisher lagging more than :data:`RECENT_IDS` entries behind the other writes duplicates.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

__all__ = ["DEDUP_RULES", "RECENT_IDS", "Coverage", "DedupId", "DedupRule", "Mode", "rule_for"]

RECENT_IDS = 10_000
"""Ids remembered per ``HASHED`` topic (on the engine and in each consumer)."""


class Mode(StrEnum):
    ORDERED = "o"  # keep iff seq > the last kept seq of the topic
    HASHED = "h"  # keep iff the id is not among the topic's recent ids


class Coverage(StrEnum):
    EXACT = "exact"
    APPROXIMATE = "approximate"


@dataclass(frozen=True, slots=True)
class DedupId:
    """``seq`` orders the pushes of a topic; ``token`` tells apart different pushes with one ``seq``."""

    seq: int
    token: str = ""

    def __str__(self) -> str:
        return f"{self.seq}:{self.token}"

    @classmethod
    def parse(cls, text: str) -> DedupId:
        seq, _, token = text.partition(":")
        return cls(int(seq), token)


Key = Callable[[Any, bytes], DedupId]  # (the push's ``data``, its JSON text) -> id


def _first(data: Any) -> Any:
    return data[0] if type(data) is list and data else data


def _version(data: Any, payload: bytes) -> DedupId:
    return DedupId(int(_first(data)["version"]))


def _trade_id(data: Any, payload: bytes) -> DedupId:
    items = data if type(data) is list else [data]
    return DedupId(max(int(item["trade_id"]) for item in items))


TIMESTAMPS = ("ms_t", "ts", "event_time", "update_time", "s_t")
"""Exchange timestamp fields, in order of preference (``s_t`` in seconds)."""


def _stamp_and_hash(data: Any, payload: bytes) -> DedupId:
    item = _first(data)
    seq = 0
    if type(item) is dict:
        for name in TIMESTAMPS:
            value = item.get(name)
            if value is not None:
                try:
                    seq = int(value) * (1000 if name == "s_t" else 1)
                except (TypeError, ValueError):
                    continue
                break
    return DedupId(seq, hashlib.blake2b(payload, digest_size=8).hexdigest())


@dataclass(frozen=True, slots=True)
class DedupRule:
    family: str  # a channel, or the prefix of a family (``futures/depthIncrease``)
    mode: Mode
    key: Key
    field: str  # what the id is made of (for the docs)

    @property
    def coverage(self) -> Coverage:
        return Coverage.EXACT if self.mode is Mode.ORDERED else Coverage.APPROXIMATE


DEDUP_RULES: tuple[DedupRule, ...] = (
    DedupRule("spot/depth/increase100", Mode.ORDERED, _version, "version"),
    DedupRule("futures/depthIncrease", Mode.ORDERED, _version, "version"),
    DedupRule("futures/trade", Mode.ORDERED, _trade_id, "trade_id (the highest of the push)"),
    DedupRule("", Mode.HASHED, _stamp_and_hash, "exchange timestamp + content hash"),
)
"""The rule of every channel: the longest matching family wins (``""`` matches every channel)."""


def rule_for(topic: str) -> DedupRule:
    """The rule of ``topic`` (``channel[:argument][@speed]``)."""
    channel = topic.partition(":")[0].partition("@")[0]
    return max((r for r in DEDUP_RULES if channel.startswith(r.family)), key=lambda r: len(r.family))
