"""Desired versus acknowledged topics of one connection, with per-topic pending requests.

``desired`` is what the user wants on this connection (kept across reconnects, in insertion order);
the live state says what the *current socket* has: a subscribe in flight, acknowledged, or an
unsubscribe in flight. A new socket starts with an empty live state, so :meth:`to_subscribe`
yields the whole desired set again (resubscription of the current set, never a replay).
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum

from .keys import Market
from .requests import Operation
from .topics import CHANNELS, ArgKind

__all__ = ["Freshness", "LiveState", "TopicRegistry"]


class LiveState(Enum):
    PENDING_SUBSCRIBE = "pending subscribe"
    SUBSCRIBED = "subscribed"
    PENDING_UNSUBSCRIBE = "pending unsubscribe"


class TopicRegistry:
    """The topic bookkeeping of one connection (pure)."""

    __slots__ = ("_desired", "_live")

    def __init__(self) -> None:
        self._desired: dict[str, None] = {}
        self._live: dict[str, LiveState] = {}

    @property
    def desired(self) -> tuple[str, ...]:
        return tuple(self._desired)

    def __len__(self) -> int:
        return len(self._desired)

    def __contains__(self, topic: object) -> bool:
        return topic in self._desired

    def live_state(self, topic: str) -> LiveState | None:
        return self._live.get(topic)

    def subscribed(self) -> tuple[str, ...]:
        return tuple(t for t, s in self._live.items() if s is LiveState.SUBSCRIBED)

    def add(self, topics: Iterable[str]) -> list[str]:
        """Desire ``topics``; returns those that were not desired before."""
        new = []
        for t in topics:
            if t not in self._desired:
                self._desired[t] = None
                new.append(t)
        return new

    def remove(self, topics: Iterable[str]) -> list[str]:
        """Stop desiring ``topics``; returns those that were desired."""
        gone = []
        for t in topics:
            if t in self._desired:
                del self._desired[t]
                gone.append(t)
        return gone

    def to_subscribe(self) -> list[str]:
        """Desired topics not (being) subscribed on the current socket; they are marked pending.

        A topic whose unsubscribe is still in flight is included: the server handles the two
        requests in order, so the subscribe sent now wins (its unsubscribe reply is then ignored).
        """
        pending_unsub = LiveState.PENDING_UNSUBSCRIBE
        todo = [t for t in self._desired if self._live.get(t, pending_unsub) is pending_unsub]
        for t in todo:
            self._live[t] = LiveState.PENDING_SUBSCRIBE
        return todo

    def to_unsubscribe(self, topics: Iterable[str]) -> list[str]:
        """Of ``topics``, those not desired but acknowledged on the socket; they are marked pending."""
        todo = [t for t in topics if t not in self._desired and self._live.get(t) is LiveState.SUBSCRIBED]
        for t in todo:
            self._live[t] = LiveState.PENDING_UNSUBSCRIBE
        return todo

    def on_reply(self, operation: Operation | str, topic: str, ok: bool) -> bool:
        """Record the server's reply for ``topic``; returns whether a request was pending for it.

        A rejected subscribe drops the topic from the desired set (it would be rejected again).
        """
        state = self._live.get(topic)
        if operation == Operation.SUBSCRIBE:
            pending = state is LiveState.PENDING_SUBSCRIBE
            if ok:
                self._live[topic] = LiveState.SUBSCRIBED
            else:
                self._live.pop(topic, None)
                self._desired.pop(topic, None)
            return pending
        pending = state is LiveState.PENDING_UNSUBSCRIBE
        if state is LiveState.PENDING_SUBSCRIBE:
            return False  # an older unsubscribe; the subscribe sent after it decides
        if ok or topic not in self._desired:
            self._live.pop(topic, None)
        return pending

    def resubscribe(self, topic: str) -> bool:
        """Mark an acknowledged topic for an unsubscribe + subscribe pair (a stale stream).

        Returns whether the topic was acknowledged (else nothing is to be sent). It is marked
        pending subscribe: the unsubscribe reply is ignored, the subscribe reply decides.
        """
        if self._live.get(topic) is not LiveState.SUBSCRIBED or topic not in self._desired:
            return False
        self._live[topic] = LiveState.PENDING_SUBSCRIBE
        return True

    def reset(self) -> None:
        """The socket is gone: nothing is live any more (the desired set stays)."""
        self._live.clear()

    def clear(self) -> None:
        self._desired.clear()
        self._live.clear()


class Freshness:
    """When each acknowledged topic of one connection last received a push (pure: time is a parameter).

    Maps a push to the topic(s) it serves: spot ``table`` + each ``data[i].symbol`` (a topic with a
    fixed argument, such as ``spot/user/balance:BALANCE_UPDATE`` or ``spot/user/orders:ALL_SYMBOLS``,
    is served by every push of its table; the latter's pushes may carry the table ``spot/user/order``),
    futures ``group``, with a trailing ``@<n>ms`` dropped when the subscription had none.
    """

    __slots__ = ("_last", "_tables")

    def __init__(self) -> None:
        self._last: dict[str, float] = {}
        self._tables: dict[str, list[str]] = {}

    def __contains__(self, topic: object) -> bool:
        return topic in self._last

    def watch(self, topic: str, now: float) -> None:
        """Start (or restart) the clock of ``topic``."""
        self._last[topic] = now
        channel, _, argument = topic.partition(":")
        spec = CHANNELS.get(channel)
        if spec is not None and spec.market is Market.SPOT and spec.arg is ArgKind.FIXED:
            tables = [channel]
            if channel == "spot/user/orders":
                tables.append("spot/user/order")
            for table in tables:
                topics = self._tables.setdefault(table, [])
                if topic not in topics:
                    topics.append(topic)

    def unwatch(self, topic: str) -> None:
        if self._last.pop(topic, None) is None:
            return
        for table, topics in list(self._tables.items()):
            if topic in topics:
                topics.remove(topic)
                if not topics:
                    del self._tables[table]

    def clear(self) -> None:
        self._last.clear()
        self._tables.clear()

    def spot_push(self, table: str, data: object, now: float) -> None:
        last = self._last
        for topic in self._tables.get(table, ()):
            last[topic] = now
        if type(data) is list:
            for item in data:
                if type(item) is dict:
                    topic = f"{table}:{item.get('symbol')}"
                    if topic in last:
                        last[topic] = now

    def futures_push(self, group: str, now: float) -> None:
        last = self._last
        if group in last:
            last[group] = now
        elif "@" in group:
            base = group.rpartition("@")[0]
            if base in last:
                last[base] = now

    def stale(self, now: float, timeout: float) -> list[str]:
        """Topics without a push for ``timeout`` or more; their clocks restart (reported once per period)."""
        out = [t for t, seen in self._last.items() if now - seen >= timeout]
        for topic in out:
            self._last[topic] = now
        return out
