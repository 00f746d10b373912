"""Real-time BitMart WebSocket client, simulator and CLI."""

from importlib.metadata import PackageNotFoundError, version

from .client import Request, WebsocketClient
from .exceptions import (
    AckTimeout,
    AuthenticationError,
    BitmartWSError,
    ConfigurationError,
    ConnectError,
    ConnectionClosed,
    ConnectTimeout,
    DecodeError,
    InvalidState,
    InvalidTopic,
    LoginTimeout,
    MissingCredentials,
    PongTimeout,
    ProtocolError,
    ServerError,
    StaleTopic,
    SubscriptionError,
    Timeout,
    TransportError,
)
from .protocol.keys import Market, WsKey

try:
    __version__ = version("bitmart-ws")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.1.0"  # keep in step with pyproject.toml

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
    "LoginTimeout",
    "Market",
    "MissingCredentials",
    "PongTimeout",
    "ProtocolError",
    "Request",
    "ServerError",
    "StaleTopic",
    "SubscriptionError",
    "Timeout",
    "TransportError",
    "WebsocketClient",
    "WsKey",
]
