"""The one exception hierarchy of ``bitmart_ws``.

::

    BitmartWSError
    ├── ConfigurationError (ValueError)     bad option or argument
    │   ├── InvalidTopic                    a topic that cannot be parsed or routed
    │   └── MissingCredentials              a private topic without api_key/api_secret/api_memo
    ├── InvalidState (RuntimeError)         misuse: the client or connection is closed
    ├── TransportError                      the network failed us
    │   ├── ConnectError                    TCP or handshake failure (carries the HTTP status, if any)
    │   │   └── ProxyError                  the proxy refused or failed the tunnel (names host:port only)
    │   ├── ConnectionClosed                carries the close code and reason
    │   └── Timeout                         base of the phase timeouts below (not a builtin TimeoutError)
    │       ├── ConnectTimeout
    │       ├── LoginTimeout
    │       ├── AckTimeout                  no reply to a subscribe/unsubscribe in time
    │       ├── PongTimeout
    │       └── StaleTopic                  a subscribed topic sent nothing for ``stale_timeout``
    ├── ProtocolError                       a server frame we cannot understand
    │   ├── DecodeError                     inflate or JSON failure
    │   ├── MessageTooBig                   a message over ``max_message_size``
    │   └── UnexpectedReply                 a reply that matches no request (reported, changes nothing)
    ├── StreamOverflow                      a stream's consumer fell ``maxsize`` items behind (overflow=fail)
    ├── BookInvalidated                     a local order book stopped being valid (it resynchronises)
    └── ServerError                         the venue answered with an error (code, message, raw reply)
        ├── AuthenticationError             login/access refused
        └── SubscriptionError               topics rejected: ``rejected`` maps topic -> (code, message)

No exception message ever contains an API secret or a signature.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "AckTimeout",
    "AuthenticationError",
    "BitmartWSError",
    "ConfigurationError",
    "ConnectError",
    "ConnectTimeout",
    "ConnectionClosed",
    "DecodeError",
    "InvalidState",
    "InvalidTopic",
    "MessageTooBig",
    "LoginTimeout",
    "MissingCredentials",
    "PongTimeout",
    "ProtocolError",
    "ProxyError",
    "ServerError",
    "StaleTopic",
    "StreamOverflow",
    "BookInvalidated",
    "SubscriptionError",
    "Timeout",
    "TransportError",
    "UnexpectedReply",
]


class BitmartWSError(Exception):
    """Root of every error raised by ``bitmart_ws``."""


class ConfigurationError(BitmartWSError, ValueError):
    """An option or argument is invalid."""


class InvalidTopic(ConfigurationError):
    """A topic string cannot be parsed, validated or routed."""

    def __init__(self, topic: str, reason: str) -> None:
        self.topic = topic
        self.reason = reason
        super().__init__(f"invalid topic {topic!r}: {reason}")


class MissingCredentials(ConfigurationError):
    """A private topic or connection was requested without api_key, api_secret and api_memo."""


class InvalidState(BitmartWSError, RuntimeError):
    """The object is in a state where this call is not allowed (for example, closed)."""


class TransportError(BitmartWSError):
    """The connection to the server failed."""


class ConnectError(TransportError):
    """Opening the connection failed (TCP, TLS or the HTTP upgrade).

    ``status`` is the HTTP status of a refused upgrade, or ``None``.
    """

    def __init__(self, message: str, *, url: str = "", status: int | None = None) -> None:
        self.url = url
        self.status = status
        super().__init__(message)


class ProxyError(ConnectError):
    """The proxy refused or broke the tunnel (HTTP CONNECT status, SOCKS5 reply, authentication).

    ``proxy`` is the proxy's ``host:port`` (never its credentials); ``status`` is an HTTP proxy's
    status (407: authentication), ``None`` for SOCKS5.
    """

    def __init__(self, message: str, *, proxy: str, status: int | None = None) -> None:
        self.proxy = proxy
        super().__init__(message, status=status)


class ConnectionClosed(TransportError):
    """The connection closed; ``code`` and ``reason`` are those of the close frame (1006: none)."""

    def __init__(self, code: int = 1006, reason: str = "") -> None:
        self.code = code
        self.reason = reason
        detail = f": {reason}" if reason else ""
        super().__init__(f"connection closed with code {code}{detail}")


class Timeout(TransportError):
    """Base of every timeout raised by ``bitmart_ws``.

    Deliberately not a subclass of the builtin :class:`TimeoutError` (``asyncio.TimeoutError``): a
    caller's ``except TimeoutError`` around its own ``asyncio.timeout``/``wait_for`` must not swallow
    ours, nor ``except Timeout`` theirs. Catch :class:`Timeout` (or a phase below) for ours.
    """


class ConnectTimeout(Timeout):
    """The connection was not open in time."""


class LoginTimeout(Timeout):
    """No reply to the login/access request in time."""


class AckTimeout(Timeout):
    """No acknowledgement of a subscribe or unsubscribe in time; ``topics`` lists the ones missing."""

    def __init__(self, message: str, topics: tuple[str, ...] = ()) -> None:
        self.topics = topics
        super().__init__(message)


class PongTimeout(Timeout):
    """No pong arrived in time after a ping."""


class StaleTopic(Timeout):
    """A subscribed topic received no push for ``stale_timeout`` seconds (it is being resubscribed)."""

    def __init__(self, message: str, topic: str) -> None:
        self.topic = topic
        super().__init__(message)


class ProtocolError(BitmartWSError):
    """A server frame does not follow the BitMart protocol."""


class DecodeError(ProtocolError):
    """A frame could not be inflated or decoded as JSON."""


class MessageTooBig(ProtocolError):
    """A message (inflated, or reassembled from fragments) larger than ``max_message_size``; dropped."""

    def __init__(self, message: str, *, size: int, limit: int) -> None:
        self.size = size
        self.limit = limit
        super().__init__(message)


class UnexpectedReply(ProtocolError):
    """A reply that no pending request explains; it is reported and changes no subscription."""


class StreamOverflow(BitmartWSError):
    """A stream with ``overflow="fail"`` had ``maxsize`` items queued and got one more."""

    def __init__(self, message: str, *, maxsize: int) -> None:
        self.maxsize = maxsize
        super().__init__(message)


class BookInvalidated(BitmartWSError):
    """A local order book stopped being valid: ``reason`` is gap, crossed, stale snapshot, stalled or
    disconnected. Reported as an ``exception`` event; the book resynchronises by itself."""

    def __init__(self, message: str, *, topic: str, reason: str) -> None:
        self.topic = topic
        self.reason = reason
        super().__init__(message)


class ServerError(BitmartWSError):
    """The server answered with an error.

    Args:
        message: the server's message (or ours, when it sent none).
        code: the server's error code (spot codes are strings such as ``"90004"``; futures has none).
        raw: the server's reply, as parsed.
    """

    def __init__(self, message: str, *, code: str | None = None, raw: Any = None) -> None:
        self.code = code
        self.raw = raw
        self.server_message = message
        super().__init__(f"[{code}] {message}" if code else message)


class AuthenticationError(ServerError):
    """The server refused the login/access request."""


class SubscriptionError(ServerError):
    """The server rejected one or more topics.

    ``rejected`` maps each rejected topic to ``(code, message)``; ``accepted`` lists those that succeeded.
    """

    def __init__(
        self,
        rejected: Mapping[str, tuple[str | None, str]],
        *,
        accepted: tuple[str, ...] = (),
        operation: str = "subscribe",
    ) -> None:
        self.rejected = dict(rejected)
        self.accepted = accepted
        self.operation = operation
        parts = ", ".join(
            f"{topic} ({'[' + code + '] ' if code else ''}{msg})"
            for topic, (code, msg) in self.rejected.items()
        )
        super().__init__(f"{operation} rejected for {len(self.rejected)} topic(s): {parts}")
