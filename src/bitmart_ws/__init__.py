"""Real-time BitMart WebSocket client, simulator and CLI."""

from importlib.metadata import PackageNotFoundError, version

from .books import LocalBook
from .client import Request, WebsocketClient
from .exceptions import (
    AckTimeout,
    AuthenticationError,
    BitmartWSError,
    BookInvalidated,
    ConfigurationError,
    ConnectError,
    ConnectionClosed,
    ConnectTimeout,
    DecodeError,
    InvalidState,
    InvalidTopic,
    LoginTimeout,
    MessageTooBig,
    MissingCredentials,
    PongTimeout,
    ProtocolError,
    ProxyError,
    ServerError,
    StaleTopic,
    StreamOverflow,
    SubscriptionError,
    Timeout,
    TransportError,
    UnexpectedReply,
)
from .protocol.keys import Market, WsKey
from .streams import Overflow, Stream, StreamStats

try:
    __version__ = version("bitmart-ws")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.1.0"  # keep in step with pyproject.toml

__all__ = [
    "AckTimeout",
    "AuthenticationError",
    "BitmartWSError",
    "BookInvalidated",
    "ConfigurationError",
    "ConnectError",
    "ConnectTimeout",
    "ConnectionClosed",
    "DecodeError",
    "InvalidState",
    "InvalidTopic",
    "LocalBook",
    "LoginTimeout",
    "Market",
    "MessageTooBig",
    "MissingCredentials",
    "Overflow",
    "PongTimeout",
    "ProtocolError",
    "ProxyError",
    "Request",
    "ServerError",
    "StaleTopic",
    "Stream",
    "StreamOverflow",
    "StreamStats",
    "SubscriptionError",
    "Timeout",
    "TransportError",
    "UnexpectedReply",
    "WebsocketClient",
    "WsKey",
]
