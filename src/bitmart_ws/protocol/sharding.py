"""Spreading one key's topics over several connections when they exceed a connection's limit."""

from __future__ import annotations

from collections.abc import Iterable

from ..exceptions import ConfigurationError
from .keys import WsKey

__all__ = ["DEFAULT_MAX_TOPICS", "ShardPlan", "default_max_topics"]

DEFAULT_MAX_TOPICS = {False: 115, True: 100}
"""BitMart's topics per connection: 115 public, 100 private (spot error 90006)."""


def default_max_topics(key: WsKey) -> int:
    return DEFAULT_MAX_TOPICS[key.is_private]


class ShardPlan:
    """Which connection (shard index 0, 1, ...) carries each topic of one key.

    A topic keeps its shard until released; new topics fill the lowest shard with room, so the
    number of shards is ``ceil(topics / limit)`` right after a fresh fill. Pure and deterministic.
    """

    __slots__ = ("_counts", "_where", "limit")

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ConfigurationError(f"max topics per connection must be >= 1, not {limit}")
        self.limit = limit
        self._where: dict[str, int] = {}
        self._counts: list[int] = []

    def shard_of(self, topic: str) -> int | None:
        return self._where.get(topic)

    @property
    def shard_count(self) -> int:
        return len(self._counts)

    def counts(self) -> tuple[int, ...]:
        return tuple(self._counts)

    def topics(self, shard: int) -> list[str]:
        return [t for t, s in self._where.items() if s == shard]

    def place(self, topics: Iterable[str]) -> dict[int, list[str]]:
        """Place ``topics`` (already placed ones keep their shard); returns topics per shard, in order."""
        out: dict[int, list[str]] = {}
        for topic in dict.fromkeys(topics):
            shard = self._where.get(topic)
            if shard is None:
                shard = self._free_shard()
                self._where[topic] = shard
                self._counts[shard] += 1
            out.setdefault(shard, []).append(topic)
        return out

    def release(self, topics: Iterable[str]) -> dict[int, list[str]]:
        """Forget ``topics``; returns the released ones per shard (unknown topics are ignored)."""
        out: dict[int, list[str]] = {}
        for topic in topics:
            shard = self._where.pop(topic, None)
            if shard is not None:
                self._counts[shard] -= 1
                out.setdefault(shard, []).append(topic)
        return out

    def _free_shard(self) -> int:
        for i, n in enumerate(self._counts):
            if n < self.limit:
                return i
        self._counts.append(0)
        return len(self._counts) - 1
