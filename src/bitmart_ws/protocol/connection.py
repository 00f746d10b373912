"""The states of one connection and the transitions allowed between them (pure)."""

from __future__ import annotations

from enum import Enum

__all__ = ["SENDABLE", "TRANSITIONS", "ConnState"]


class ConnState(Enum):
    """Where one connection (one socket slot of a key) is.

    IDLE → CONNECTING → (AUTHENTICATING →) SUBSCRIBING → LIVE; any failure → BACKOFF → CONNECTING;
    ``close()`` from anywhere → CLOSING → CLOSED; a key the server calls invalid (or a private key
    without credentials) → STOPPED.
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
    _S.CONNECTING: frozenset({_S.AUTHENTICATING, _S.SUBSCRIBING, _S.BACKOFF, _S.STOPPED, _S.CLOSING}),
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
