"""The WebSocket transport behind a small interface (picows today; replaceable).

The client sees two things: :func:`connect` returning a :class:`Transport` (send text, close,
disconnect), and its own :class:`FrameSink` receiving every data frame synchronously, in arrival
order, inside the transport's read callback.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from typing import Any, Protocol

from picows import (
    WSCloseCode,
    WSFrame,
    WSListener,
    WSMsgType,
    WSTransport,
    ws_connect,
)
from picows import WSError as _WSError

from .exceptions import ConnectError, ConnectTimeout

__all__ = ["FrameSink", "Transport", "connect"]

_BINARY = WSMsgType.BINARY
_TEXT = WSMsgType.TEXT
_CLOSE = WSMsgType.CLOSE


class FrameSink(Protocol):
    """What the transport calls. ``on_binary`` must not keep its memoryview beyond the call."""

    def on_text(self, data: bytes) -> None: ...

    def on_binary(self, payload: memoryview) -> None: ...

    def on_closed(self, code: int, reason: str) -> None: ...


class Transport:
    """One open WebSocket."""

    __slots__ = ("_listener", "_ws")

    def __init__(self, ws: WSTransport, listener: _Listener) -> None:
        self._ws = ws
        self._listener = listener

    def send_text(self, data: bytes) -> None:
        self._ws.send(_TEXT, data)

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Send a close frame (if still possible) and drop the TCP connection."""
        self._listener.detach()
        try:
            if not self._ws.is_close_frame_sent:
                self._ws.send_close(WSCloseCode(code), reason.encode())
        except (ValueError, OSError):  # an unusual code or an already broken pipe
            pass
        self._ws.disconnect()

    def abort(self) -> None:
        """Drop the connection without a close handshake (used after a pong timeout)."""
        self._listener.detach()
        self._ws.disconnect(graceful=False)


class _Listener(WSListener):
    """Hands every frame to the sink; a detached listener (old socket) affects nothing."""

    __slots__ = ("_on_binary", "_on_text", "_sink")

    def __init__(self, sink: FrameSink) -> None:
        super().__init__()
        self._sink: FrameSink | None = sink
        self._on_text = sink.on_text
        self._on_binary = sink.on_binary

    def detach(self) -> None:
        self._sink = None

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if self._sink is None:
            return
        mt = frame.msg_type
        if mt is _TEXT:
            self._on_text(frame.get_payload_as_bytes())
        elif mt is _BINARY:
            self._on_binary(frame.get_payload_as_memoryview())
        elif mt is _CLOSE:
            try:
                transport.send_close(frame.get_close_code())
            except ValueError:
                transport.send_close(WSCloseCode.PROTOCOL_ERROR)
            transport.disconnect()

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        sink = self._sink
        self._sink = None
        if sink is None:
            return
        code, reason = 1006, ""
        hs = transport.close_handshake
        if hs is not None and hs.recv is not None:
            code = int(hs.recv.code.value) if isinstance(hs.recv.code, WSCloseCode) else int(hs.recv.code)
            reason = hs.recv.reason
        sink.on_closed(code, reason)


async def _resolve(loop: asyncio.AbstractEventLoop, host: str, port: int) -> list[Any]:
    """Addresses of ``host``: an IP literal is parsed here, without the loop's resolver thread."""
    try:
        return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)
    except socket.gaierror:
        return await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)


async def connect(
    url: str, sink: FrameSink, *, within: float, max_frame_size: int = 64 * 1024 * 1024
) -> Transport:
    """Open ``url`` within ``within`` seconds (TCP, TLS and upgrade together).

    Raises:
        ConnectTimeout: not open in time.
        ConnectError: refused TCP, TLS failure or a refused upgrade (``status`` = the HTTP status).
    """
    loop = asyncio.get_running_loop()
    sockets: list[socket.socket] = []

    async def socket_factory(parsed: Any) -> socket.socket:
        # We own the TCP socket so that a cancelled or timed-out upgrade never leaves it open
        # (picows does not close it when cancelled while waiting for the upgrade response).
        infos = await _resolve(loop, parsed.host, parsed.port)
        error: OSError | None = None
        for family, type_, proto, _, address in infos:
            sock = socket.socket(family, type_, proto)
            sock.setblocking(False)
            try:
                await loop.sock_connect(sock, address)
            except OSError as exc:
                sock.close()
                error = exc
                continue
            except BaseException:
                sock.close()
                raise
            sockets.append(sock)
            return sock
        raise error or OSError(f"cannot resolve {parsed.host}")

    try:
        async with asyncio.timeout(within):
            ws, listener = await ws_connect(
                lambda: _Listener(sink),
                url,
                enable_auto_ping=False,
                enable_auto_pong=True,
                websocket_handshake_timeout=within,
                max_frame_size=max_frame_size,
                max_redirects=0,
                logger_name="bitmart_ws.transport",
                socket_factory=socket_factory,
            )
    except BaseException as exc:
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        if isinstance(exc, TimeoutError):
            raise ConnectTimeout(f"connection to {url} not open within {within:g} s") from None
        if isinstance(exc, _WSError):
            response = getattr(exc, "response", None)
            status = int(response.status) if response is not None else None
            detail = f"HTTP {status}" if status is not None else str(exc)
            raise ConnectError(
                f"WebSocket upgrade to {url} refused: {detail}", url=url, status=status
            ) from exc
        if isinstance(exc, OSError):
            raise ConnectError(f"cannot connect to {url}: {exc}", url=url) from exc
        raise
    assert isinstance(listener, _Listener)
    return Transport(ws, listener)
