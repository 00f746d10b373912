"""The sans-I/O core: no asyncio, no sockets, no clock. Time is always a parameter.

It knows BitMart's venue (keys, URLs, channels, frames) and nothing about how bytes travel.
"""

from __future__ import annotations

from .inbound import (
    ErrorReply,
    Inbound,
    LoginReply,
    Malformed,
    Pong,
    Push,
    SubscriptionReply,
    Unknown,
    classify,
    decode_json,
    inflate,
    parse_frame,
)
from .keys import DEMO_URLS, LIVE_URLS, Market, WsKey
from .requests import (
    MAX_FRAME_BYTES,
    MAX_TOPICS_PER_REQUEST,
    Operation,
    login_frame,
    ping_frame,
    request_frame,
    subscription_frames,
)
from .session import Session, SessionConfig
from .signing import Credentials, sign, sign_payload
from .topics import CHANNELS, ArgKind, ChannelSpec, Topic, group_by_key, parse_topic, route, validate_symbol

__all__ = [
    "CHANNELS",
    "DEMO_URLS",
    "LIVE_URLS",
    "MAX_FRAME_BYTES",
    "MAX_TOPICS_PER_REQUEST",
    "ArgKind",
    "ChannelSpec",
    "Credentials",
    "ErrorReply",
    "Inbound",
    "LoginReply",
    "Malformed",
    "Market",
    "Operation",
    "Pong",
    "Push",
    "Session",
    "SessionConfig",
    "SubscriptionReply",
    "Topic",
    "Unknown",
    "WsKey",
    "classify",
    "decode_json",
    "group_by_key",
    "inflate",
    "login_frame",
    "parse_frame",
    "parse_topic",
    "ping_frame",
    "request_frame",
    "route",
    "sign",
    "sign_payload",
    "subscription_frames",
    "validate_symbol",
]
