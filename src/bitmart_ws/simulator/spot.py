"""The spot dialect (``ws-manager-compress``): ``op`` envelopes, text ``ping``,
login, per-topic acks and error frames with string codes, and raw-deflate binary data pushes."""

from __future__ import annotations

import logging
import zlib
from typing import Any, cast

import msgspec

from ..protocol.keys import Market
from .accounts import LoginFailure
from .config import SimulatorConfig
from .session import Close, Dialect, Session

__all__ = ["SpotDialect", "deflate"]

logger = logging.getLogger("bitmart_ws.simulator.spot")

_OPS = ("subscribe", "unsubscribe", "login", "request")


def deflate(body: bytes) -> bytes:
    """One independent raw-deflate stream (no zlib header), as BitMart's spot binary frames."""
    compressor = zlib.compressobj(wbits=-15)
    return compressor.compress(body) + compressor.flush()


def _error(event: str, code: str, message: str) -> dict[str, Any]:
    return {"event": event, "errorCode": code, "errorMessage": message}


class SpotDialect(Dialect):
    """The spot server's side of the conversation."""

    market = Market.SPOT

    def serve_options(self, config: SimulatorConfig) -> dict[str, Any]:
        return {"ping_interval": None, "max_size": 2**20, "compression": None}

    def rate_limit(self, config: SimulatorConfig) -> int | None:
        return config.spot_rate_limit

    def lifeless_timeout(self, config: SimulatorConfig) -> float:
        return config.lifeless_timeout if config.lifeless_timeout > 0 else config.spot_lifeless_timeout

    def encode(self, session: Session, body: bytes) -> str | bytes:
        mode = session.venue.config.compress
        compress = session.rng.random() < 0.5 if mode == "mixed" else mode == "always"
        return deflate(body) if compress else body.decode()

    def error_frame(self, code: str, message: str) -> dict[str, Any]:
        return _error("error", code, message)

    async def reject_rate(self, session: Session) -> None:
        message = "Subscribed message frequency exceeds limit, please try later"
        await session.send(_error("error", "90007", message))

    async def handle(self, session: Session, text: str) -> None:
        if text == "ping":
            if not session.venue.faults.pongs_paused:
                await session.ws.send("pong")
            return
        try:
            request = msgspec.json.decode(text)
        except msgspec.DecodeError:
            request = None
        if not isinstance(request, dict):
            await session.send(_error("error", "90001", "Invalid message format"))
            return
        op, args = request.get("op"), request.get("args")
        if op not in _OPS:
            await session.send(_error("error", "90002", "Invalid op param"))
            return
        if not isinstance(args, list) or not args:
            await session.send(_error(str(op), "90003", "Invalid args param"))
            return
        if op == "login":
            await self._login(session, args)
            return
        if not all(isinstance(a, str) for a in args):
            await session.send(_error(str(op), "90003", "Invalid args param"))
            return
        topics = cast(list[str], args)
        if op != "request":
            await session.venue.ack_delay()
        cfg = session.venue.config
        too_many = cfg.max_topics_per_request and op != "request" and len(topics) > cfg.max_topics_per_request
        too_long = cfg.max_args_bytes and sum(len(t.encode()) for t in topics) > cfg.max_args_bytes
        if too_many or too_long:
            await session.send(_error(op, "90005", "Topic quantity in single subscription exceeds limit"))
        elif op == "subscribe":
            await self._subscribe(session, topics)
        elif op == "unsubscribe":
            await self._unsubscribe(session, topics)
        else:
            await self._request(session, topics)

    async def _login(self, session: Session, args: list[Any]) -> None:
        await session.venue.ack_delay()
        if session.account is not None:
            await session.send(_error("login", "91005", "Already logged in"))
            return
        result = session.venue.verify(args, strict_strings=False)
        if isinstance(result, LoginFailure):
            logger.info("session %d login refused: %s", session.id, result.code)
            await session.send(_error("login", result.code, result.message))
            raise Close(1000, "login failed")
        session.set_account(result)
        logger.info("session %d logged in", session.id)
        await session.send({"event": "login"})

    async def _topic_error(self, session: Session, event: str, topic: str, code: str, message: str) -> None:
        """A refused topic: BitMart's frame names no topic; ``spot_error_topic`` adds it."""
        reply = _error(event, code, message)
        if session.venue.config.spot_error_topic:
            reply = {"event": event, "topic": topic, "errorCode": code, "errorMessage": message}
        await session.send(reply)

    async def _subscribe(self, session: Session, topics: list[str]) -> None:
        cfg = session.venue.config
        limit = cfg.max_private_topics if session.is_private else cfg.max_public_topics
        for text in topics:
            checked = session.check_topic(text)
            if isinstance(checked, tuple):
                await self._topic_error(session, "subscribe", text, *checked)
            elif checked.is_private and session.account is None:
                await self._topic_error(session, "subscribe", text, "91006", "User not logged in")
            elif text in session.topics:
                await self._topic_error(session, "subscribe", text, "90008", "Duplicate subscription")
            elif limit and len(session.topics) >= limit:
                message = "Subscribed total topic quantity exceeds limit"
                await self._topic_error(session, "subscribe", text, "90006", message)
            else:
                await session.send({"event": "subscribe", "topic": text})
                await session.add_topic(checked)

    async def _unsubscribe(self, session: Session, topics: list[str]) -> None:
        for text in topics:
            checked = session.check_topic(text)
            if isinstance(checked, tuple):
                await self._topic_error(session, "unsubscribe", text, *checked)
                continue
            session.remove_topic(text)
            await session.send({"event": "unsubscribe", "topic": text})

    async def _request(self, session: Session, topics: list[str]) -> None:
        for text in topics:
            checked = session.check_topic(text)
            if isinstance(checked, tuple):
                await self._topic_error(session, "request", text, *checked)
            elif checked.spec is None or not checked.spec.requestable:
                await self._topic_error(session, "request", text, "90004", "Invalid channel param")
            else:
                await session.request(checked)
