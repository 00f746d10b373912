"""The WebSocket transport behind a small interface (picows today; replaceable).

The client sees two things: :func:`connect` returning a :class:`Transport` (send text, close,
disconnect), and its own :class:`FrameSink` receiving every data message synchronously, in arrival
order, inside the transport's read callback. Fragmented messages are reassembled here; messages over
``max_message_size`` are dropped whole and reported with :meth:`FrameSink.on_oversized`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from typing import Any, Final, Protocol

from picows import (
    WSCloseCode,
    WSFrame,
    WSListener,
    WSMsgType,
    WSTransport,
    ws_connect,
)
from picows import WSError as _WSError

from ._proxy import ProxyURL, open_tunnel, parse_proxy_url
from .exceptions import ConfigurationError, ConnectError, ConnectTimeout, ProxyError

__all__ = ["CLOSE_TIMEOUT", "MAX_MESSAGE_SIZE", "FrameSink", "Transport", "check_ssl_context", "connect"]

logger = logging.getLogger("bitmart_ws.transport")

MAX_MESSAGE_SIZE: Final = 4 * 1024 * 1024
"""Default bound of one reassembled message (BitMart's largest pushes, depth snapshots, are tens of KB)."""
FRAME_SIZE_FACTOR: Final = 4
"""Default ``max_frame_size`` = this x ``max_message_size``: the cap where picows drops the connection."""
CLOSE_TIMEOUT: Final = 1.0
"""Default wait of :meth:`Transport.aclose` for the server's close frame."""

_BINARY = WSMsgType.BINARY
_TEXT = WSMsgType.TEXT
_CLOSE = WSMsgType.CLOSE
_CONTINUATION = WSMsgType.CONTINUATION
_PONG = WSMsgType.PONG
_NO_STATUS: Final = 1005  # RFC 6455 §7.1.5: a close frame without a code
_ABNORMAL: Final = 1006  # no close frame at all


def _sendable_close_code(code: int) -> bool:
    """RFC 6455 §7.4: codes an endpoint may put in its close frame."""
    return 1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code <= 4999


class FrameSink(Protocol):
    """What the transport calls, synchronously, in arrival order.

    ``on_binary`` must not keep its memoryview beyond the call. ``on_oversized(size, limit)``: a
    message of ``size`` bytes (all its fragments) was over ``limit`` and dropped; the connection
    stays open.
    ``on_closed(code, reason)``: the connection ended by itself (server close, failure, drop;
    ``reason`` is always a ``str``; 1006: no close frame); not called after :meth:`Transport.close`,
    :meth:`Transport.aclose` or :meth:`Transport.abort`.
    """

    def on_text(self, data: bytes) -> None: ...

    def on_binary(self, payload: memoryview) -> None: ...

    def on_closed(self, code: int, reason: str) -> None: ...

    def on_oversized(self, size: int, limit: int) -> None: ...


def _received_close(ws: WSTransport) -> tuple[int, str]:
    """Code and reason of the close frame the server sent: (1006, "") when none arrived."""
    hs = ws.close_handshake
    if hs is None or hs.recv is None:
        return _ABNORMAL, ""
    code = hs.recv.code.value
    return (code or _NO_STATUS), (hs.recv.reason or "")


class Transport:
    """One open WebSocket."""

    __slots__ = ("_listener", "_ws")

    def __init__(self, ws: WSTransport, listener: _Listener) -> None:
        self._ws = ws
        self._listener = listener

    def send_text(self, data: bytes) -> None:
        self._ws.send(_TEXT, data)

    def _send_close(self, code: int, reason: str) -> None:
        if not _sendable_close_code(code):
            raise ConfigurationError(f"close code {code} cannot be sent (RFC 6455 §7.4)")
        self._listener.detach()
        try:
            if not self._ws.is_close_frame_sent:
                self._ws.send_close(WSCloseCode(code), reason.encode())
        except OSError:  # an already broken pipe
            pass

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Send a close frame (if still possible) and drop the TCP connection at once."""
        self._send_close(code, reason)
        self._ws.disconnect()

    async def aclose(
        self, code: int = 1000, reason: str = "", close_timeout: float = CLOSE_TIMEOUT
    ) -> tuple[int, str]:
        """Close handshake: send our close frame, wait up to ``close_timeout`` s for the server's, disconnect.

        Returns the server's ``(code, reason)`` (1005: its frame had no code; 1006: no close frame in
        time, or the connection was already gone without one). The connection is always down on
        return, also when cancelled. The sink hears nothing more, ``on_closed`` included.
        """
        ws = self._ws
        self._send_close(code, reason)
        try:
            async with asyncio.timeout(close_timeout):
                await ws.wait_disconnected()
        except TimeoutError:
            logger.debug("no close frame from the server within %g s: aborting", close_timeout)
        except Exception:  # a failure picows recorded earlier: the socket is gone all the same
            pass
        finally:
            ws.disconnect(graceful=False)  # no-op once disconnected
        return _received_close(ws)

    def abort(self) -> None:
        """Drop the connection without a close handshake (used after a pong timeout)."""
        self._listener.detach()
        self._ws.disconnect(graceful=False)

    def pause_reading(self) -> None:
        """Stop reading the socket (back-pressure); frames of the current read are still delivered."""
        self._ws.underlying_transport.pause_reading()

    def resume_reading(self) -> None:
        self._ws.underlying_transport.resume_reading()


class _Listener(WSListener):
    """Hands every message to the sink; a detached listener (old socket) affects nothing.

    Hot path: a complete (``fin``) data frame within the limit goes straight to the sink. Everything
    else (control frames, fragments, oversized frames, a detached listener) takes :meth:`_other_frame`:
    ``_fast_limit`` is ``-1`` while a fragmented message is open and once detached, so the hot path
    needs no other state check.
    """

    __slots__ = (
        "_failure",
        "_fast_limit",
        "_frag",
        "_frag_size",
        "_frag_type",
        "_limit",
        "_on_binary",
        "_on_oversized",
        "_on_text",
        "_sink",
    )

    def __init__(self, sink: FrameSink, max_message_size: int) -> None:
        super().__init__()
        self._sink: FrameSink | None = sink
        self._on_text = sink.on_text
        self._on_binary = sink.on_binary
        self._on_oversized = sink.on_oversized
        self._limit = max_message_size
        self._fast_limit = max_message_size
        self._frag_type: WSMsgType | None = None  # TEXT or BINARY while a fragmented message is open
        self._frag = bytearray()
        self._frag_size = 0  # bytes of the open message so far (kept counting once over the limit)
        self._failure: tuple[int, str] | None = None  # the close we sent when failing the connection

    def detach(self) -> None:
        self._sink = None
        self._fast_limit = -1
        self._end_message()

    def _end_message(self) -> None:
        self._frag_type = None
        self._frag = bytearray()
        self._frag_size = 0

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.fin and frame.payload_size <= self._fast_limit:
            mt = frame.msg_type
            if mt is _TEXT:
                self._on_text(frame.get_payload_as_bytes())
                return
            if mt is _BINARY:
                self._on_binary(frame.get_payload_as_memoryview())
                return
        self._other_frame(transport, frame)

    def _other_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        mt = frame.msg_type
        if mt is _CLOSE:
            if not transport.is_close_frame_sent:  # the server closes: echo its code (RFC 6455 §5.5.1)
                code = frame.get_close_code()
                transport.send_close(code if code.value else WSCloseCode.OK)
            transport.disconnect()
            return
        if self._sink is None or transport.is_close_frame_sent or mt is _PONG:
            # detached; closing (picows may still parse frames after failing on one); PINGs: picows answers
            return
        size = frame.payload_size
        if mt is _CONTINUATION:
            if self._frag_type is None:
                self._fail(transport, "continuation frame outside a fragmented message")
                return
            self._frag_size += size
            if self._frag_size <= self._limit:
                self._frag += frame.get_payload_as_memoryview()
            elif self._frag:
                self._frag = bytearray()  # over the limit: skip the rest of this message
            if frame.fin:
                self._finish_message()
            return
        if self._frag_type is not None:
            self._fail(transport, "new data frame inside a fragmented message")
        elif frame.fin:  # a complete frame over the limit
            self._on_oversized(size, self._limit)
        else:
            self._frag_type = mt
            self._frag_size = size
            self._fast_limit = -1
            if size <= self._limit:
                self._frag += frame.get_payload_as_memoryview()

    def _finish_message(self) -> None:
        mt, data, size = self._frag_type, self._frag, self._frag_size
        self._end_message()
        self._fast_limit = self._limit
        if size > self._limit:
            self._on_oversized(size, self._limit)
        elif mt is _TEXT:
            self._on_text(bytes(data))
        else:
            self._on_binary(memoryview(data))

    def _fail(self, transport: WSTransport, why: str) -> None:
        """RFC 6455 §5.4: a broken fragment sequence fails the connection (1002)."""
        logger.warning("protocol error from the server: %s; closing", why)
        self._failure = (WSCloseCode.PROTOCOL_ERROR.value, why)
        self._end_message()
        transport.send_close(WSCloseCode.PROTOCOL_ERROR, why.encode())
        transport.disconnect()

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        # picows stores a local failure (a frame over max_frame_size, say) on a future it completes
        # right after this callback, and only wait_disconnected() reads it: retrieve it then, or asyncio
        # logs "Future exception was never retrieved" once nobody awaits it (a drop, not our aclose).
        asyncio.get_running_loop().call_soon(_retrieve_failure, transport)
        sink = self._sink
        self.detach()
        if sink is None:
            return
        code, reason = _received_close(transport)
        if code == _ABNORMAL and self._failure is not None:
            code, reason = self._failure
        sink.on_closed(code, reason)


def _retrieve_failure(ws: WSTransport) -> None:
    """Read the failure picows recorded for a closed connection (its disconnect future is done by now)."""
    waiter = ws.wait_disconnected()
    try:
        waiter.send(None)  # the future is done: the await completes (or raises) without suspending
    except StopIteration:
        return
    except Exception as exc:  # the recorded failure, now retrieved; the sink was told with on_closed
        logger.debug("connection failure recorded by picows: %r", exc)
        return
    waiter.close()  # not done after all (cannot happen after connection_lost): leave nothing pending


async def _resolve(loop: asyncio.AbstractEventLoop, host: str, port: int) -> list[Any]:
    """Addresses of ``host``: an IP literal is parsed here, without the loop's resolver thread."""
    try:
        return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)
    except socket.gaierror:
        return await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)


async def _open_tcp(
    loop: asyncio.AbstractEventLoop, host: str, port: int, sockets: list[socket.socket]
) -> socket.socket:
    """A connected non-blocking socket to ``host:port`` (first address that answers), kept in ``sockets``."""
    infos = await _resolve(loop, host, port)
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
    raise error or OSError(f"cannot resolve {host}")


def check_ssl_context(ssl_context: ssl.SSLContext | None) -> None:
    """Refuse a context that would not verify certificates (raises ConfigurationError)."""
    if ssl_context is not None and (
        ssl_context.verify_mode != ssl.CERT_REQUIRED or not ssl_context.check_hostname
    ):
        raise ConfigurationError(
            "ssl_context must verify certificates (verify_mode=CERT_REQUIRED, check_hostname=True); "
            "to trust a private CA, use ssl.create_default_context(cafile=...)"
        )


async def connect(
    url: str,
    sink: FrameSink,
    *,
    within: float,
    max_message_size: int = MAX_MESSAGE_SIZE,
    max_frame_size: int | None = None,
    proxy: str | ProxyURL | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> Transport:
    """Open ``url`` within ``within`` seconds (TCP, proxy tunnel, TLS and upgrade together).

    Args:
        url: ``ws://`` or ``wss://`` URL.
        sink: receives every message, reassembled, in arrival order.
        within: the whole opening must finish within this many seconds.
        max_message_size: bound of one message, fragments reassembled (default 4 MiB). A bigger
            message is dropped whole (its remaining fragments skipped) and reported with
            ``sink.on_oversized(size, limit)``;
            the connection stays open.
        max_frame_size: hard cap of one frame (default ``4 * max_message_size``, at least
            ``max_message_size``). picows buffers a frame whole before handing it on, so a frame over
            this cap closes the connection with 1009 (``on_closed``); frames between the two bounds
            are dropped and reported like oversized messages.
        proxy: ``"http://[user:pass@]host:port"`` (HTTP CONNECT, Basic auth),
            ``"socks5://[user:pass@]host:port"`` (RFC 1928/1929; the proxy resolves the host name),
            a :class:`~bitmart_ws._proxy.ProxyURL` from :func:`~bitmart_ws._proxy.parse_proxy_url`,
            or ``None``. TLS (``wss://``) runs end to end through the tunnel.
        ssl_context: for ``wss://`` (for example ``ssl.create_default_context(cafile=...)`` for a
            private CA); it must verify certificates and host names. ``None``: the system's default
            verifying context. Ignored for ``ws://``.

    Raises:
        ConfigurationError: bad ``proxy`` URL, bounds or ``ssl_context`` (before any I/O).
        ConnectTimeout: not open in time.
        ProxyError: the proxy is unreachable or refused the tunnel (names host:port, never credentials).
        ConnectError: refused TCP, TLS failure (certificate verification: says so) or a refused
            upgrade (``status`` = the HTTP status).
    """
    if max_message_size < 1:
        raise ConfigurationError(f"max_message_size must be positive, not {max_message_size}")
    frame_cap = FRAME_SIZE_FACTOR * max_message_size if max_frame_size is None else max_frame_size
    if frame_cap < max_message_size:
        raise ConfigurationError(f"max_frame_size {frame_cap} is below max_message_size {max_message_size}")
    tunnel = parse_proxy_url(proxy) if isinstance(proxy, str) else proxy
    check_ssl_context(ssl_context)
    loop = asyncio.get_running_loop()
    sockets: list[socket.socket] = []

    async def socket_factory(parsed: Any) -> socket.socket:
        # We own the TCP socket so that a cancelled or timed-out upgrade never leaves it open
        # (picows does not close it when cancelled while waiting for the upgrade response).
        if tunnel is None:
            return await _open_tcp(loop, parsed.host, parsed.port, sockets)
        try:
            sock = await _open_tcp(loop, tunnel.host, tunnel.port, sockets)
        except OSError as exc:
            raise ProxyError(f"cannot reach {tunnel} proxy: {exc}", proxy=tunnel.address) from exc
        try:
            await open_tunnel(loop, sock, tunnel, parsed.host, parsed.port)
        except BaseException:
            sockets.remove(sock)  # never handed to picows: ours to close
            sock.close()
            raise
        return sock

    try:
        async with asyncio.timeout(within):
            ws, listener = await ws_connect(
                lambda: _Listener(sink, max_message_size),
                url,
                ssl_context=ssl_context,
                enable_auto_ping=False,
                enable_auto_pong=True,
                websocket_handshake_timeout=within,
                max_frame_size=frame_cap,
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
        if isinstance(exc, ssl.SSLCertVerificationError):
            raise ConnectError(
                f"TLS certificate verification failed for {url}: {exc.verify_message} "
                "(to trust a private CA, pass ssl_context=ssl.create_default_context(cafile=...))",
                url=url,
            ) from exc
        if isinstance(exc, OSError):
            raise ConnectError(f"cannot connect to {url}: {exc}", url=url) from exc
        raise
    assert isinstance(listener, _Listener)
    return Transport(ws, listener)
