"""The lifecycle of one connection, as an explicit state machine (pure)."""

from __future__ import annotations

from enum import Enum

from ..exceptions import InvalidState

__all__ = ["ConnState", "Lifecycle"]


class ConnState(Enum):
    """Where one connection (one socket slot of a key) is.

    IDLE → CONNECTING → (AUTHENTICATING →) SUBSCRIBING → LIVE; any failure → BACKOFF → CONNECTING;
    ``close()`` from anywhere → CLOSING → CLOSED; a key the server calls invalid → STOPPED.
    """

    IDLE = "idle"
    CONNECTING = "connecting"
    AUTHENTICATING = "authenticating"
    SUBSCRIBING = "subscribing"
    LIVE = "live"
    BACKOFF = "backoff"
    STOPPED = "stopped"
    CLOSING = "closing"
    CLOSED = "closed"


_S = ConnState
TRANSITIONS: dict[ConnState, frozenset[ConnState]] = {
    _S.IDLE: frozenset({_S.CONNECTING, _S.CLOSING}),
    _S.CONNECTING: frozenset({_S.AUTHENTICATING, _S.SUBSCRIBING, _S.BACKOFF, _S.CLOSING}),
    _S.AUTHENTICATING: frozenset({_S.SUBSCRIBING, _S.BACKOFF, _S.STOPPED, _S.CLOSING}),
    _S.SUBSCRIBING: frozenset({_S.LIVE, _S.BACKOFF, _S.CLOSING}),
    _S.LIVE: frozenset({_S.BACKOFF, _S.CLOSING}),
    _S.BACKOFF: frozenset({_S.CONNECTING, _S.CLOSING}),
    _S.STOPPED: frozenset({_S.CLOSING}),
    _S.CLOSING: frozenset({_S.CLOSED}),
    _S.CLOSED: frozenset(),
}

# States in which the socket may carry subscribe/unsubscribe requests.
SENDABLE = frozenset({_S.SUBSCRIBING, _S.LIVE})


class Lifecycle:
    """State plus the counters the reconnect policy needs.

    ``attempt`` counts consecutive failures since the connection was last LIVE (it resets only on
    LIVE, so a socket that opens but fails login or resubscription keeps backing off). ``opened``
    says whether a socket ever opened (the ``open`` event was emitted; later recoveries are
    ``reconnected``).
    """

    __slots__ = ("attempt", "opened", "state")

    def __init__(self) -> None:
        self.state = ConnState.IDLE
        self.attempt = 0
        self.opened = False

    def to(self, new: ConnState) -> None:
        if new not in TRANSITIONS[self.state]:
            raise InvalidState(f"connection cannot go from {self.state.value} to {new.value}")
        self.state = new
        if new is ConnState.LIVE:
            self.attempt = 0
        elif new is ConnState.BACKOFF:
            self.attempt += 1

    @property
    def sendable(self) -> bool:
        return self.state in SENDABLE

    @property
    def finished(self) -> bool:
        return self.state in (ConnState.CLOSING, ConnState.CLOSED)
