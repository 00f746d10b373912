"""The sink interface: where a :class:`~bitmart_ws.fanout.Publisher` appends its entries.

A sink gets batches of :class:`Entry` in the order the publisher received them and appends each one to
the log of its topic, keeping only the first copy of a :class:`~bitmart_ws.fanout.dedup.DedupId` (two
publishers write the same pushes). Redis Streams is :class:`~bitmart_ws.fanout.RedisSink`; a Kafka or
NATS JetStream sink is one more module implementing :class:`Sink`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from ..exceptions import BitmartWSError
from .dedup import DedupId, Mode

__all__ = ["Entry", "EntryKind", "FanoutError", "Sink", "SinkUnavailable"]


class FanoutError(BitmartWSError):
    """Base of the fan-out errors."""


class SinkUnavailable(FanoutError):
    """The engine cannot be reached or refused the write; the publisher keeps the entries and retries."""


class EntryKind(StrEnum):
    UPDATE = "u"  # a push, exactly as the ``update`` event delivered it
    SNAPSHOT = "s"  # the publisher's own book snapshot, in the exchange's snapshot shape


@dataclass(frozen=True, slots=True)
class Entry:
    topic: str  # as subscribed (the stream key is ``prefix + topic``)
    payload: bytes  # the message as JSON text
    received_ms: int  # when the publisher received it (Unix ms)
    dedup: DedupId
    mode: Mode
    kind: EntryKind = EntryKind.UPDATE


class Sink(Protocol):
    """What a publisher needs from an engine."""

    async def open(self) -> None:
        """Connect (or check the connection); raises :class:`SinkUnavailable`."""

    async def write(self, entries: Sequence[Entry]) -> int:
        """Append ``entries`` (each topic's in order), dropping copies already written; returns how many
        were new. Raises :class:`SinkUnavailable`: none, some or all may have been written, so the
        publisher writes the same batch again (the dedup ids make that safe)."""
        ...

    async def close(self) -> None:
        """Release the connection."""
