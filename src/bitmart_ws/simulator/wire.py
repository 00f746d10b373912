"""What the simulator changes in ``websockets``: a protocol that reports every frame and can stop answering
protocol pings, the connection class that installs it, and a logger that never shows a frame's payload.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from websockets.asyncio.server import Server, ServerConnection
from websockets.frames import Frame, Opcode
from websockets.server import ServerProtocol

__all__ = ["WIRE_LOGGER", "SimConnection", "SimProtocol", "WireLogger"]


class WireLogger(logging.LoggerAdapter[logging.Logger]):
    """The logger the simulator gives ``websockets``: frame dumps keep their kind and size, never their
    payload, which would show login signatures (websockets logs every frame at DEBUG)."""

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        if self.isEnabledFor(level):
            self.logger.log(level, msg, *(_redact(arg) for arg in args), **kwargs)


def _redact(arg: object) -> object:
    if isinstance(arg, Frame) and arg.opcode in (Opcode.TEXT, Opcode.BINARY, Opcode.CONT):
        return f"{arg.opcode.name} [{len(arg.data)} bytes, payload not logged]"
    return arg


WIRE_LOGGER = WireLogger(logging.getLogger("bitmart_ws.simulator.wire"))


def _answer(_frame: Frame) -> bool:
    return True


class SimProtocol(ServerProtocol):
    """``ServerProtocol`` that reports every frame and can stop answering protocol pings.

    ``recv_frame`` is the one internal hook of websockets this relies on (no public option turns the
    automatic PONG off); ``test_sim_protocol_hook`` drives it through the sans-I/O API and fails
    loudly if a websockets release changes it.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.frame_hook: Callable[[Frame], None] | None = None
        self.answer_ping: Callable[[Frame], bool] = _answer

    def recv_frame(self, frame: Frame) -> None:
        if self.frame_hook is not None:
            self.frame_hook(frame)
        if frame.opcode is Opcode.PING and not self.answer_ping(frame):
            return  # the only effect of a PING in the base class is the PONG we suppress
        super().recv_frame(frame)


class SimConnection(ServerConnection):
    """The connection class the simulator passes to ``serve(create_connection=...)``.

    ``serve`` builds a plain ``ServerProtocol`` and hands it to this constructor, which replaces it,
    before anything used it, by a :class:`SimProtocol` with the same public settings (origins,
    extensions, subprotocols, size limits, logger). It also tells the simulator when the TCP
    connection is gone (for the per-IP connection count) and carries a pending per-IP refusal.
    """

    protocol: SimProtocol

    def __init__(self, protocol: ServerProtocol, server: Server, **kwargs: Any) -> None:
        sim_protocol = SimProtocol(
            origins=protocol.origins,
            extensions=protocol.available_extensions,
            subprotocols=protocol.available_subprotocols,
            max_size=(protocol.max_message_size, protocol.max_fragment_size),
            logger=protocol.logger,
        )
        super().__init__(sim_protocol, server, **kwargs)
        self.on_lost: Callable[[], None] | None = None
        self.ip_refusal: tuple[str, str] | None = None

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        callback, self.on_lost = self.on_lost, None
        if callback is not None:
            callback()
