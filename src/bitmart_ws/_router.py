"""Routes data pushes to the streams and books that want their topic (typed, decoded once).

Installed on the emitter only while a stream or book exists, so the plain ``update`` path pays
nothing for it. The topic of a push is read from the raw message first (spot ``table`` + symbol,
futures ``group`` with or without its speed suffix); only a push somebody wants is decoded.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from .exceptions import DecodeError
from .models import Decoder, RawUpdate, Update
from .models.decode import DecodeFn
from .protocol.inbound import push_topics

__all__ = ["Consumer", "Router"]

_WANTED_KEPT = 4096
_time_ns = time.time_ns
_Wanted = tuple[tuple["Consumer", ...], DecodeFn]


class Consumer(Protocol):
    def feed(self, update: Update[Any] | RawUpdate, now: float) -> None: ...

    def connected(self, now: float) -> None: ...

    def disconnected(self, now: float) -> None: ...


class Router:
    """Consumers by topic; the ``update``/``response`` taps of the client while any exist."""

    def __init__(
        self,
        decoder: Decoder,
        report: Callable[[str, BaseException, dict[str, Any]], None],
        install: Callable[[bool], None],
    ) -> None:
        self._decoder = decoder
        self._report = report
        self._install = install
        self._by_topic: dict[str, list[Consumer]] = {}
        # The consumers of a futures group or of a one-item spot push (table, symbol), worked out once;
        # forgotten whenever a consumer comes or goes.
        self._wanted: dict[object, _Wanted] = {}

    def __len__(self) -> int:
        return len(self._by_topic)

    def add(self, topics: tuple[str, ...] | list[str], consumer: Consumer) -> None:
        was_empty = not self._by_topic
        self._wanted.clear()
        for topic in topics:
            self._by_topic.setdefault(topic, []).append(consumer)
        if was_empty and self._by_topic:
            self._install(True)

    def remove(self, topics: tuple[str, ...] | list[str], consumer: Consumer) -> None:
        self._wanted.clear()
        for topic in topics:
            consumers = self._by_topic.get(topic)
            if consumers is not None and consumer in consumers:
                consumers.remove(consumer)
                if not consumers:
                    del self._by_topic[topic]
        if not self._by_topic:
            self._install(False)

    def consumers(self, topic: str) -> list[Consumer]:
        return list(self._by_topic.get(topic, ()))

    def _remember(self, key: object, msg: dict[str, Any]) -> _Wanted:
        """Work out who wants the pushes of ``key`` (each consumer once) and their decode function."""
        consumers = self._resolve(msg)
        wanted = consumers, self._decoder.decoder_for(msg) if consumers else self._decode
        if len(self._wanted) >= _WANTED_KEPT:  # a server inventing names cannot grow it without bound
            self._wanted.clear()
        self._wanted[key] = wanted
        return wanted

    def _decode(self, msg: Mapping[str, Any], received_ms: int | None) -> Update[Any] | RawUpdate:
        return self._decoder.decode(msg, received_ms=received_ms)

    def _resolve(self, msg: dict[str, Any]) -> tuple[Consumer, ...]:
        by_topic = self._by_topic
        wanted: list[Consumer] = []
        for topic in push_topics(msg):
            for consumer in by_topic.get(topic, ()):
                if consumer not in wanted:
                    wanted.append(consumer)
        return tuple(wanted)

    # -- taps (sync handlers run before the user's) -------------------------------------------------
    def on_update(self, msg: dict[str, Any]) -> None:
        # Who wants the push and how to decode it are memoised by a key they follow from: the futures
        # group, or the table and symbol of a one-item spot push (any other push is worked out each time).
        key: object = msg.get("group")
        if type(key) is not str:
            table, data = msg.get("table"), msg.get("data")
            if type(table) is str and type(data) is list and len(data) == 1 and type(data[0]) is dict:
                key = (table, data[0].get("symbol"))
            else:
                key = None
        wanted = self._wanted.get(key) if key is not None else None
        if wanted is None:
            wanted = self._remember(key, msg) if key is not None else (self._resolve(msg), self._decode)
        consumers, decode = wanted
        if not consumers:
            return
        try:
            update = decode(msg, _time_ns() // 1_000_000)
        except DecodeError as exc:
            self._report(f"cannot decode a push for a stream or book: {exc}", exc, msg)
            return
        now = asyncio.get_running_loop().time()
        for consumer in consumers:
            consumer.feed(update, now)

    def on_response(self, payload: dict[str, Any]) -> None:
        """A subscribe acknowledgement: the snapshot of an incremental book follows it."""
        if payload.get("event", payload.get("action")) != "subscribe":
            return
        topic = payload.get("topic", payload.get("group"))
        if type(topic) is not str:
            return
        now = asyncio.get_running_loop().time()
        base = topic.partition("@")[0]
        for consumer in {id(c): c for t in (topic, base) for c in self.consumers(t)}.values():
            consumer.connected(now)
