"""Close handshakes against real servers: what each side sees, and the bound on a silent peer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from picows import WSCloseCode, WSListener, WSMsgType, WSTransport, ws_create_server
from websockets.asyncio.server import ServerConnection

from bitmart_ws import ConfigurationError, _transport

from .conftest import Sink, raw_peer, scripted_peer


class _ClosePeer(WSListener):
    """picows server side: records the client's close; answers with ``answer`` or never."""

    def __init__(
        self, answer: tuple[int, str] | None, seen: list[tuple[int, str]], gone: asyncio.Event
    ) -> None:
        super().__init__()
        self.answer = answer
        self.seen = seen
        self.gone = gone

    def on_ws_frame(self, transport: WSTransport, frame: Any) -> None:
        if frame.msg_type is WSMsgType.CLOSE:
            self.seen.append((frame.get_close_code().value, frame.get_close_reason() or ""))
            if self.answer is not None:
                transport.send_close(WSCloseCode(self.answer[0]), self.answer[1].encode())
                transport.disconnect()

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self.gone.set()


@asynccontextmanager
async def close_peer(
    answer: tuple[int, str] | None,
) -> AsyncIterator[tuple[str, list[tuple[int, str]], asyncio.Event]]:
    seen: list[tuple[int, str]] = []
    gone = asyncio.Event()
    server = await ws_create_server(lambda _request: _ClosePeer(answer, seen, gone), "127.0.0.1", 0)
    try:
        yield f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/", seen, gone
    finally:
        server.close()
        await server.wait_closed()


async def test_aclose_returns_what_the_server_answered(sink: Sink) -> None:
    async with close_peer((4001, "server says bye")) as (url, seen, gone):
        transport = await _transport.connect(url, sink, within=5)
        assert await transport.aclose(4000, "client says bye") == (4001, "server says bye")
        await asyncio.wait_for(gone.wait(), 5)
    assert seen == [(4000, "client says bye")]
    assert sink.events == []  # the sink hears nothing after a local close


async def test_a_peer_that_never_answers_does_not_hold_aclose_past_its_bound(sink: Sink) -> None:
    loop = asyncio.get_running_loop()
    async with close_peer(None) as (url, seen, gone):
        transport = await _transport.connect(url, sink, within=5)
        start = loop.time()
        assert await transport.aclose(close_timeout=0.3) == (1006, "")
        elapsed = loop.time() - start
        await asyncio.wait_for(gone.wait(), 5)  # and the TCP connection is really gone
    assert seen == [(1000, "")]
    assert 0.25 <= elapsed < 2.0


async def test_websockets_peer_sees_the_close_code_and_echoes_it(sink: Sink) -> None:
    async def script(ws: ServerConnection) -> tuple[int | None, str | None]:
        await ws.wait_closed()
        return ws.close_code, ws.close_reason

    async with scripted_peer(script) as peer:
        transport = await _transport.connect(peer.url, sink, within=5)
        assert await transport.aclose(1001, "going away") == (1001, "going away")
        await asyncio.wait_for(peer.finished.wait(), 5)
    assert peer.results == [(1001, "going away")]


@pytest.mark.parametrize(
    ("code", "reason", "expected"), [(4002, "maintenance", (4002, "maintenance")), (1000, "", (1000, ""))]
)
async def test_a_server_close_reaches_on_closed_with_a_str_reason(
    sink: Sink, code: int, reason: str, expected: tuple[int, str]
) -> None:
    async def script(ws: ServerConnection) -> tuple[int | None, str | None]:
        await ws.close(code, reason)  # 1005: websockets sends a close frame without a code
        return ws.close_code, ws.close_reason

    async with scripted_peer(script) as peer:
        await _transport.connect(peer.url, sink, within=5)
        await sink.wait(lambda: bool(sink.of("closed")))
        await asyncio.wait_for(peer.finished.wait(), 5)
    assert sink.of("closed") == [expected]
    assert peer.results[0][0] == code  # the client echoed the server's code


async def test_a_close_frame_without_a_code_is_1005_and_answered_with_1000(sink: Sink) -> None:
    async with raw_peer([(WSMsgType.CLOSE, b"", True)]) as (url, got_close):
        await _transport.connect(url, sink, within=5)
        assert await asyncio.wait_for(got_close, 5) == 1000
        await sink.wait(lambda: bool(sink.of("closed")))
    assert sink.of("closed") == [(1005, "")]  # a str reason, never None


async def test_close_and_abort_stay_synchronous_and_unsendable_codes_are_refused(sink: Sink) -> None:
    async def script(ws: ServerConnection) -> int | None:
        await ws.wait_closed()
        return ws.close_code

    async with scripted_peer(script) as peer:
        transport = await _transport.connect(peer.url, sink, within=5)
        with pytest.raises(ConfigurationError, match="1006"):
            transport.close(1006)
        transport.close(4003, "sync")
        await asyncio.wait_for(peer.finished.wait(), 5)
        transport.abort()  # idempotent after close
    assert peer.results == [4003]
    assert sink.events == []
