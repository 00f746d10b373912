"""Real-time BitMart WebSocket client, simulator and CLI."""

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
    SubscriptionError,
    Timeout,
    TransportError,
)
from .protocol.keys import Market, WsKey

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
    "SubscriptionError",
    "Timeout",
    "TransportError",
    "WebsocketClient",
    "WsKey",
]
