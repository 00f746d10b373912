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
    "is_futures_push",
    "is_spot_push",
    "parse_frame",
    "push_topics",
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
    """Acknowledgement (or rejection) of one topic of a subscribe/unsubscribe request.

    ``topic`` is ``None`` for a rejection that names no topic: BitMart's spot error frames
    (``{"event":"subscribe","errorCode":"90004",...}``) and error frames without ``event`` whose code
    is a subscription error. BitMart answers the topics of a request one by one, in order, so such a
    reply belongs to the oldest topic of that operation still awaiting an answer (the session decides).
    """

    operation: str
    topic: str | None
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
    """Decode one JSON document. Raises :class:`DecodeError` (also for JSON nested too deep to decode)."""
    try:
        return _decode(text)
    except msgspec.DecodeError as exc:
        raise DecodeError(f"frame is not valid JSON: {exc}") from exc
    except RecursionError as exc:
        raise DecodeError(f"frame is not valid JSON: nested too deep ({exc})") from exc


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


# The one test of "this message is a data push", per dialect: the client's hot path and
# :func:`classify` both use these, so the two can never disagree.
def is_spot_push(msg: Any) -> bool:
    """A spot data push: ``{"table": <str>, "data": ...}``."""
    return type(msg) is dict and type(msg.get("table")) is str and "data" in msg


def is_futures_push(msg: Any) -> bool:
    """A futures data push: ``{"group": <str other than "System">, "data": ...}`` without an ``action``.

    Acknowledgements carry ``group`` too (with ``action``); ``System`` carries the pong.
    """
    if type(msg) is not dict or "data" not in msg or msg.get("action") is not None:
        return False
    group = msg.get("group")
    return type(group) is str and group != "System"


# Spot tables whose topics have a fixed argument instead of the symbol.
_SPOT_ALIASES = {
    "spot/user/balance": ("spot/user/balance:BALANCE_UPDATE",),
    "spot/user/order": ("spot/user/orders:ALL_SYMBOLS",),
}


def push_topics(msg: dict[str, Any]) -> list[str]:
    """The topics a data push serves, from its raw fields (no decoding): spot ``table:symbol`` per
    symbol of ``data`` (plus the fixed-argument topic of a private table), futures ``group`` and, when
    it carries a speed suffix, ``group`` without it."""
    table = msg.get("table")
    if type(table) is str:
        data = msg.get("data")
        out = []
        if type(data) is list:
            for item in data:
                if type(item) is dict and type(item.get("symbol")) is str:
                    topic = f"{table}:{item['symbol']}"
                    if topic not in out:
                        out.append(topic)
        out.extend(_SPOT_ALIASES.get(table, ()))
        return out
    group = msg.get("group")
    if type(group) is not str:
        return []
    return [group, group.partition("@")[0]] if "@" in group else [group]


SUBSCRIPTION_ERROR_CODES = frozenset({"90004", "90005", "90006", "90007", "90008", "90009", "91006", "92001"})
"""Spot codes that answer a subscribe/unsubscribe (a frame with one of them but no ``event`` is one)."""


def classify(market: Market, msg: Any) -> Inbound:
    """Classify one decoded JSON message of ``market``'s dialect."""
    if not isinstance(msg, dict):
        return Unknown(msg)
    return _classify_spot(msg) if market is Market.SPOT else _classify_futures(msg)


def _classify_spot(msg: dict[str, Any]) -> Inbound:
    if is_spot_push(msg):
        return Push(msg["table"], msg)
    event = msg.get("event")
    code = _code(msg.get("errorCode"))
    message = _text(msg.get("errorMessage"))
    if event == "login":
        return LoginReply(code is None, code, message, msg)
    topic = msg.get("topic")
    topic = topic if isinstance(topic, str) else None
    if event in ("subscribe", "unsubscribe") and (topic is not None or code is not None):
        return SubscriptionReply(event, topic, code is None, code, message, msg)
    if event is None and code in SUBSCRIPTION_ERROR_CODES:
        return SubscriptionReply("subscribe", topic, False, code, message, msg)
    if event == "error" or code is not None:
        return ErrorReply(code, message or "server error", msg)
    return Unknown(msg)


def _classify_futures(msg: dict[str, Any]) -> Inbound:
    if is_futures_push(msg):
        return Push(msg["group"], msg)
    group = msg.get("group")
    action = msg.get("action")
    if group == "System" and action is None and "data" in msg:
        return PONG if _text(msg["data"]).startswith("pong") else Unknown(msg)
    success = msg.get("success")
    message = _text(msg.get("error"))
    if action == "access":
        return LoginReply(success is True, None, message, msg)
    if action in ("subscribe", "unsubscribe") and isinstance(success, bool):
        topic = group if isinstance(group, str) else _request_topic(msg)
        if topic is not None or not success:
            return SubscriptionReply(action, topic, success, None, message, msg)
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
