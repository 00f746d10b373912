"""A driver for :class:`Session` in tests: plays the transport and a scripted BitMart, no sockets."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from bitmart_ws.exceptions import ConnectError
from bitmart_ws.protocol.keys import Market, WsKey
from bitmart_ws.protocol.requests import Operation
from bitmart_ws.protocol.session import (
    Close,
    Emit,
    Open,
    Release,
    Reply,
    Send,
    Session,
    SessionConfig,
    Settle,
)
from bitmart_ws.protocol.signing import Credentials

CREDS = Credentials("key", "secret", "memo")


@dataclass
class Harness:
    """Feeds inputs at an increasing ``now``; records what the session asked for."""

    session: Session
    now: float = 0.0
    socket: bool = False
    open_requested: bool = False
    sent: list[Any] = field(default_factory=list)  # frames of the current socket, decoded
    all_sent: list[Any] = field(default_factory=list)
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    settled: list[tuple[Operation, str, Reply]] = field(default_factory=list)
    released: list[str] = field(default_factory=list)
    closes: list[Close] = field(default_factory=list)

    @classmethod
    def make(cls, key: WsKey = WsKey.SPOT_PUBLIC_V1, **options: Any) -> Harness:
        options.setdefault("ack_timeout", 5.0)
        if key.is_private:
            options.setdefault("credentials", CREDS)
        return cls(Session(SessionConfig(key=key, **options), rand=lambda: 0.0))

    @property
    def market(self) -> Market:
        return self.session.market

    def drain(self) -> None:
        for effect in self.session.effects():
            if isinstance(effect, Send):
                assert self.socket, "a frame was sent without a socket"
                frame = effect.frame.decode()
                decoded = frame if frame == "ping" else json.loads(frame)
                self.sent.append(decoded)
                self.all_sent.append(decoded)
            elif isinstance(effect, Emit):
                self.events.append((effect.event, effect.payload))
            elif isinstance(effect, Settle):
                self.settled.append((effect.operation, effect.topic, effect.reply))
            elif isinstance(effect, Open):
                assert not self.socket and not self.open_requested
                self.open_requested = True
            elif isinstance(effect, Close):
                self.closes.append(effect)
                self.socket = False
                self.sent = []
            elif isinstance(effect, Release):
                self.released.extend(effect.topics)

    # --- inputs -------------------------------------------------------------------------------------
    def at(self, now: float) -> Harness:
        assert now >= self.now
        self.now = now
        return self

    def subscribe(self, *topics: str) -> list[tuple[str, Reply | None]]:
        out = self.session.subscribe(self.now, topics)
        self.drain()
        return out

    def unsubscribe(self, *topics: str) -> list[tuple[str, Reply | None]]:
        out = self.session.unsubscribe(self.now, topics)
        self.drain()
        return out

    def connect(self) -> None:
        assert self.open_requested
        self.open_requested = False
        self.socket = True
        self.sent = []
        self.session.connected(self.now, 1_700_000_000.0)
        self.drain()

    def refuse(self, status: int | None = None) -> None:
        assert self.open_requested
        self.open_requested = False
        self.session.connect_failed(
            self.now, ConnectError("cannot connect: refused", url="ws://x", status=status)
        )
        self.drain()

    def lose(self, code: int = 1006, reason: str = "") -> None:
        self.socket = False
        self.sent = []
        self.session.connection_lost(self.now, code, reason)
        self.drain()

    def reply(self, msg: Any) -> None:
        self.session.receive(self.now, msg)
        self.drain()

    def tick(self, now: float) -> None:
        self.at(now)
        self.session.tick(now)
        self.drain()

    def close(self) -> None:
        self.open_requested = False  # the driver cancels an attempt in progress
        self.session.close(self.now)
        self.drain()
        self.session.closed()
        self.drain()

    # --- reading what happened ------------------------------------------------------------------
    def names(self) -> list[str]:
        return [name for name, _ in self.events]

    def of(self, name: str) -> list[dict[str, Any]]:
        return [payload for n, payload in self.events if n == name]

    def frames(self, verb: str) -> list[Any]:
        key = "op" if self.market is Market.SPOT else "action"
        return [f for f in self.sent if isinstance(f, dict) and f.get(key) == verb]

    def topics_sent(self, verb: str) -> list[str]:
        return [t for f in self.frames(verb) for t in f["args"]]

    def open_live(self) -> None:
        """From idle to live with the server answering everything (no topics needed)."""
        self.session.start(self.now)
        self.drain()
        self.connect()
        if self.session.key.is_private:
            self.reply(login_ok(self.market))
        for topic in self.topics_sent("subscribe"):
            self.reply(sub_ok(self.market, topic))


def login_ok(market: Market) -> dict[str, Any]:
    return {"event": "login"} if market is Market.SPOT else {"action": "access", "success": True}


def sub_ok(market: Market, topic: str, op: str = "subscribe") -> dict[str, Any]:
    if market is Market.SPOT:
        return {"event": op, "topic": topic}
    return {"action": op, "group": topic, "success": True, "request": {"action": op, "args": [topic]}}


def sub_error(
    market: Market, topic: str | None, code: str = "90004", op: str = "subscribe"
) -> dict[str, Any]:
    if market is Market.SPOT:
        msg: dict[str, Any] = {"event": op, "errorCode": code, "errorMessage": "Invalid channel param"}
        if topic is not None:
            msg["topic"] = topic
        return msg
    return {
        "action": op,
        "group": topic,
        "success": False,
        "error": f"Invalid channel: not found {topic}",
        "request": {"action": op, "args": [topic]},
    }
