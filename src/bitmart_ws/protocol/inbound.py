"""Inflating and classifying every server-to-client frame, for both dialects.

:func:`parse_frame` never raises: a frame that cannot be inflated or decoded becomes a
:class:`Malformed` value carrying a :class:`~bitmart_ws.exceptions.DecodeError`.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any

import msgspec

from ..exceptions import DecodeError
from .keys import Market

__all__ = [
    "ErrorReply",
    "Inbound",
    "LoginReply",
    "Malformed",
    "Pong",
    "Push",
    "SubscriptionReply",
    "Unknown",
    "classify",
    "decode_json",
    "inflate",
    "parse_frame",
]

_decode = msgspec.json.Decoder().decode


@dataclass(frozen=True, slots=True)
class Pong:
    """The heartbeat reply: text ``pong`` (spot) or ``{"group":"System","data":"pong..."}`` (futures)."""


@dataclass(frozen=True, slots=True)
class LoginReply:
    """Reply to spot ``login`` / futures ``access``. ``ok`` only for a real success reply."""

    ok: bool
    code: str | None
    message: str
    raw: dict[str, Any]


@dataclass(frozen=True, slots=True)
class SubscriptionReply:
    """Acknowledgement (or rejection) of one topic of a subscribe/unsubscribe request."""

    operation: str
    topic: str
    ok: bool
    code: str | None
    message: str
    raw: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ErrorReply:
    """An error not tied to one topic: spot ``{"event":"error",...}``, futures ``{"success":false,...}``."""

    code: str | None
    message: str
    raw: Any


@dataclass(frozen=True, slots=True)
class Push:
    """A data push. ``channel`` is spot's ``table`` or futures' ``group``, exactly as sent."""

    channel: str
    raw: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Unknown:
    """Valid JSON that matches no known message shape."""

    raw: Any


@dataclass(frozen=True, slots=True)
class Malformed:
    """A frame that could not be inflated or decoded; ``payload`` is what arrived."""

    error: DecodeError
    payload: bytes | str


Inbound = Pong | LoginReply | SubscriptionReply | ErrorReply | Push | Unknown | Malformed
PONG = Pong()


def inflate(data: bytes | bytearray | memoryview) -> bytes:
    """Inflate one spot binary frame: an independent raw DEFLATE stream (RFC 1951, no header).

    Raises:
        DecodeError: the data is not a complete raw deflate stream (a zlib-wrapped or truncated
            frame fails here, loudly).
    """
    try:
        return zlib.decompress(data, -15)
    except zlib.error as exc:
        raise DecodeError(f"cannot inflate binary frame of {len(data)} bytes: {exc}") from exc


def decode_json(text: bytes | str) -> Any:
    """Decode one JSON document. Raises :class:`DecodeError`."""
    try:
        return _decode(text)
    except msgspec.DecodeError as exc:
        raise DecodeError(f"frame is not valid JSON: {exc}") from exc


def parse_frame(market: Market, payload: bytes | str, *, binary: bool) -> Inbound:
    """Inflate (binary frames), decode and classify one frame. Never raises."""
    try:
        data = inflate(payload) if binary else payload  # type: ignore[arg-type]
        if data == b"pong" or data == "pong":
            return PONG
        return classify(market, decode_json(data))
    except DecodeError as exc:
        return Malformed(exc, payload)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else "" if value is None else str(value)


def _code(value: Any) -> str | None:
    # Spot error codes are strings ("90004"); accept numbers too, and treat "" / 0 / null as no code.
    return str(value) if value not in (None, "", 0) else None


def classify(market: Market, msg: Any) -> Inbound:
    """Classify one decoded JSON message of ``market``'s dialect."""
    if not isinstance(msg, dict):
        return Unknown(msg)
    return _classify_spot(msg) if market is Market.SPOT else _classify_futures(msg)


def _classify_spot(msg: dict[str, Any]) -> Inbound:
    table = msg.get("table")
    if isinstance(table, str) and "data" in msg:
        return Push(table, msg)
    event = msg.get("event")
    code = _code(msg.get("errorCode"))
    message = _text(msg.get("errorMessage"))
    if event == "login":
        return LoginReply(code is None, code, message, msg)
    if event in ("subscribe", "unsubscribe") and isinstance(msg.get("topic"), str):
        return SubscriptionReply(event, msg["topic"], code is None, code, message, msg)
    if event == "error" or code is not None:
        return ErrorReply(code, message or "server error", msg)
    return Unknown(msg)


def _classify_futures(msg: dict[str, Any]) -> Inbound:
    group = msg.get("group")
    action = msg.get("action")
    if "data" in msg and isinstance(group, str) and action is None:
        if group == "System":
            return PONG if _text(msg["data"]).startswith("pong") else Unknown(msg)
        return Push(group, msg)
    success = msg.get("success")
    message = _text(msg.get("error"))
    if action == "access":
        return LoginReply(success is True, None, message, msg)
    if action in ("subscribe", "unsubscribe"):
        topic = group if isinstance(group, str) else _request_topic(msg)
        if topic is not None:
            return SubscriptionReply(action, topic, success is True, None, message, msg)
    if success is False:
        return ErrorReply(None, message or "server error", msg)
    return Unknown(msg)


def _request_topic(msg: dict[str, Any]) -> str | None:
    request = msg.get("request")
    if isinstance(request, dict):
        args = request.get("args")
        if isinstance(args, list) and len(args) == 1 and isinstance(args[0], str):
            return args[0]
    return None
