"""Fragmented messages from a real websockets server: reassembled in order, bounded by max_message_size."""

from __future__ import annotations

import asyncio
import json
import zlib
from collections.abc import AsyncIterator, Sequence
from typing import Any

from picows import WSCloseCode, WSMsgType
from websockets.asyncio.server import ServerConnection

from bitmart_ws import _transport

from .conftest import Sink, raw_peer, scripted_peer


def deflate(data: bytes) -> bytes:
    """Raw deflate, as BitMart spot sends its binary frames."""
    c = zlib.compressobj(wbits=-15)
    return c.compress(data) + c.flush()


def chunks(data: bytes, n: int) -> list[bytes]:
    step = -(-len(data) // n)
    return [data[i : i + step] for i in range(0, len(data), step)]


async def pinging(ws: ServerConnection, parts: Sequence[Any], pongs: list[Any]) -> AsyncIterator[Any]:
    """Yield ``parts`` as fragments with a PING between each two (control frames inside a message)."""
    for i, part in enumerate(parts):
        if i:
            pongs.append(await ws.ping())
        yield part


SPOT_PUSH = json.dumps({"table": "spot/depth50", "data": [{"asks": [["1.0", "2.0"]] * 300}]}).encode()


async def test_fragmented_text_and_binary_are_reassembled_in_order(sink: Sink) -> None:
    compressed = deflate(SPOT_PUSH)
    pongs: list[Any] = []

    async def script(ws: ServerConnection) -> None:
        await ws.send("first")
        await ws.send(pinging(ws, ["frag", "mented ", "text"], pongs))
        await ws.send(b"\x00whole-binary")
        await ws.send(pinging(ws, chunks(compressed, 4), pongs))
        await ws.send(["only-one-fragment"])  # a first frame then an empty final CONTINUATION
        await ws.send("last")
        await asyncio.gather(*pongs)  # the client answered every ping sent inside a message
        await ws.wait_closed()

    async with scripted_peer(script) as peer:
        transport = await _transport.connect(peer.url, sink, within=5)
        await sink.wait(lambda: len(sink.events) >= 6)
        await transport.aclose()
    await asyncio.wait_for(peer.finished.wait(), 5)

    assert peer.results == [None]
    assert len(pongs) == 5
    assert sink.events == [
        ("text", b"first"),
        ("text", b"fragmented text"),
        ("binary", b"\x00whole-binary"),
        ("binary", compressed),
        ("text", b"only-one-fragment"),
        ("text", b"last"),
    ]
    assert zlib.decompress(sink.of("binary")[1], -15) == SPOT_PUSH


async def test_oversized_messages_are_dropped_whole_and_the_connection_stays_open(sink: Sink) -> None:
    async def script(ws: ServerConnection) -> None:
        await ws.send("a" * 1000)  # exactly the limit: delivered
        await ws.send(["b" * 600, "b" * 600, "b" * 600])  # 1800 in fragments: dropped whole
        await ws.send("after fragments")
        await ws.send(b"c" * 1001)  # one frame over the limit: dropped
        await ws.send(pinging(ws, [b"d" * 10, b"d" * 2000, b"d" * 10], []))  # a huge middle fragment
        await ws.send(["e" * 500, "e" * 500])  # exactly the limit in fragments: delivered
        await ws.send("end")
        await ws.wait_closed()

    async with scripted_peer(script) as peer:
        transport = await _transport.connect(peer.url, sink, within=5, max_message_size=1000)
        await sink.wait(lambda: bool(sink.events) and sink.events[-1] == ("text", b"end"))
        await transport.aclose()

    assert sink.events == [
        ("text", b"a" * 1000),
        ("oversized", (1800, 1000)),
        ("text", b"after fragments"),
        ("oversized", (1001, 1000)),
        ("oversized", (2020, 1000)),
        ("text", b"e" * 1000),
        ("text", b"end"),
    ]


async def test_a_frame_over_max_frame_size_closes_with_1009(sink: Sink) -> None:
    async def script(ws: ServerConnection) -> tuple[int | None, str | None]:
        await ws.send("x" * 3000)
        await ws.wait_closed()
        return ws.close_code, ws.close_reason

    async with scripted_peer(script) as peer:
        transport = await _transport.connect(
            peer.url, sink, within=5, max_message_size=1000, max_frame_size=2000
        )
        await sink.wait(lambda: bool(sink.of("closed")))
        await asyncio.wait_for(peer.finished.wait(), 5)
        assert (await transport.aclose())[
            0
        ] == 1009  # already closed: reports the exchange, consumes picows' error

    assert sink.of("text") == [] and sink.of("oversized") == []
    assert sink.of("closed")[0][0] == WSCloseCode.MESSAGE_TOO_BIG.value
    assert peer.results[0][0] == WSCloseCode.MESSAGE_TOO_BIG.value


async def test_a_broken_fragment_sequence_fails_the_connection_with_1002(sink: Sink) -> None:
    broken = [
        (WSMsgType.TEXT, b"ok", True),
        (WSMsgType.TEXT, b"open", False),
        (WSMsgType.TEXT, b"new message before the end", True),
    ]
    async with raw_peer(broken) as (url, got_close):
        await _transport.connect(url, sink, within=5)
        assert await asyncio.wait_for(got_close, 5) == 1002
        await sink.wait(lambda: bool(sink.of("closed")))
    assert sink.events == [
        ("text", b"ok"),
        ("closed", (1002, "new data frame inside a fragmented message")),
    ]
