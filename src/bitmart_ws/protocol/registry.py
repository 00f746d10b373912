"""Desired versus acknowledged topics of one connection, with per-topic pending requests.

``desired`` is what the user wants on this connection (kept across reconnects, in insertion order);
the live state says what the *current socket* has: a subscribe in flight, acknowledged, or an
unsubscribe in flight. A new socket starts with an empty live state, so :meth:`to_subscribe`
yields the whole desired set again (resubscription of the current set, never a replay).
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum

from .requests import Operation

__all__ = ["LiveState", "TopicRegistry"]


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
        """Desired topics with nothing on the current socket; they are marked pending."""
        todo = [t for t in self._desired if t not in self._live]
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
        if ok or topic not in self._desired:
            self._live.pop(topic, None)
        return pending

    def reset(self) -> None:
        """The socket is gone: nothing is live any more (the desired set stays)."""
        self._live.clear()

    def clear(self) -> None:
        self._desired.clear()
        self._live.clear()
