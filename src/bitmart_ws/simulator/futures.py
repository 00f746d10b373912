"""The futures v2 dialect (``openapi-ws-v2``): ``action`` envelopes, the System pong,
``access``, one ack per topic echoing the request, free-text errors, and text data pushes."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import msgspec

from ..protocol.keys import Market
from .accounts import LoginFailure
from .config import SimulatorConfig
from .session import Close, Dialect, Session

__all__ = ["FuturesDialect"]

logger = logging.getLogger("bitmart_ws.simulator.futures")

_TOPIC_ACTIONS = ("subscribe", "unsubscribe", "request")
_TIMESTAMP_CODES = ("91021", "91022", "91023")


class FuturesDialect(Dialect):
    """The futures server's side of the conversation."""

    market = Market.FUTURES

    def serve_options(self, config: SimulatorConfig) -> dict[str, Any]:
        return {
            "ping_interval": config.futures_ping_interval,
            "ping_timeout": None,
            "max_size": config.futures_max_frame_bytes,
        }

    def rate_limit(self, config: SimulatorConfig) -> int | None:
        return config.futures_rate_limit

    def lifeless_timeout(self, config: SimulatorConfig) -> float:
        return config.lifeless_timeout if config.lifeless_timeout > 0 else config.futures_lifeless_timeout

    def encode(self, session: Session, body: bytes) -> str | bytes:
        return body.decode()

    def error_frame(self, code: str, message: str) -> dict[str, Any]:
        return {"success": False, "error": message}

    async def reject_rate(self, session: Session) -> None:
        await session.send({"success": False, "error": "message frequency exceeds limit"})

    async def handle(self, session: Session, text: str) -> None:
        try:
            request = msgspec.json.decode(text)
        except msgspec.DecodeError:
            await session.send({"success": False, "error": f"Invalid message: message must be JSON: {text}"})
            return
        if not isinstance(request, dict):
            await session.send({"success": False, "error": f"Invalid message: {text}"})
            return
        action, args = request.get("action"), request.get("args")
        if action == "ping":
            if not session.venue.faults.pongs_paused:
                await session.send({"group": "System", "data": f"pong+{uuid.uuid4()}"})
            return
        arg_list: list[Any] = args if isinstance(args, list) else []
        if action == "access":
            await self._access(session, arg_list)
            return
        topics = [a for a in arg_list if isinstance(a, str)]
        if action not in _TOPIC_ACTIONS or not topics:
            await self._invalid_action(session, action if isinstance(action, str) else "", topics)
        elif action == "request":
            await self._request(session, topics)
        else:
            await self._subscribe(session, action, topics)

    async def _invalid_action(self, session: Session, name: str, topics: list[str]) -> None:
        if not topics:
            await session.send({"action": name, "success": False, "error": f"Invalid action [{name}]"})
        for topic in topics:
            await session.send(
                {
                    "action": name,
                    "group": topic,
                    "success": False,
                    "request": {"action": name, "args": [topic]},
                    "error": f"Invalid action [{name}] for group [{topic}]",
                }
            )

    async def _access(self, session: Session, args: list[Any]) -> None:
        await session.venue.ack_delay()
        result = session.venue.verify(args, strict_strings=True)
        if isinstance(result, LoginFailure):
            key = args[0] if args and isinstance(args[0], str) else ""
            error = f"access failed: openapi auth: apiKey {key[:10]}**** failed: openapi auth failed"
            if result.code in _TIMESTAMP_CODES:
                error = f"access failed: {result.message}"
            logger.info("session %d access refused: %s", session.id, result.code)
            await session.send({"action": "access", "success": False, "error": error})
            raise Close(1000, "access failed")
        session.set_account(result)
        await session.send({"action": "access", "success": True})

    def _not_found(self, session: Session, topic: str) -> str:
        """The error text for an unknown channel or symbol (current or older doc wording)."""
        if session.venue.config.legacy_error_wording:
            return f"group [{topic}] not exist"
        return f"Invalid channel: not found {topic}"

    def _ack(
        self, session: Session, action: str, topic: str, topics: list[str], error: str | None
    ) -> dict[str, Any]:
        echo = topics if session.venue.config.echo_full_request else [topic]
        ack: dict[str, Any] = {"action": action, "group": topic, "success": error is None}
        ack["request"] = {"action": action, "args": echo}
        if error is not None:
            ack["error"] = error
        return ack

    async def _subscribe(self, session: Session, action: str, topics: list[str]) -> None:
        await session.venue.ack_delay()
        limit = session.venue.config.futures_max_topics
        for text in topics:
            checked = session.check_topic(text)
            if isinstance(checked, tuple):
                await session.send(self._ack(session, action, text, topics, self._not_found(session, text)))
            elif action == "unsubscribe":
                session.remove_topic(text)
                await session.send(self._ack(session, action, text, topics, None))
            elif checked.is_private and session.account is None:
                error = f"{text} need authenication"  # sic, as BitMart
                await session.send({"action": action, "group": text, "success": False, "error": error})
            elif text in session.topics:
                await session.send(self._ack(session, action, text, topics, None))
            elif limit and len(session.topics) >= limit:
                await session.send(self._ack(session, action, text, topics, "topic limit exceeded"))
            else:
                await session.send(self._ack(session, action, text, topics, None))
                await session.add_topic(checked)

    async def _request(self, session: Session, topics: list[str]) -> None:
        for text in topics:
            checked = session.check_topic(text)
            if isinstance(checked, tuple) or checked.spec is None or not checked.spec.requestable:
                await session.send(
                    self._ack(session, "request", text, topics, self._not_found(session, text))
                )
            else:
                await session.request(checked)
