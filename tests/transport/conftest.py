"""Fixtures for the transport tests: a recording sink, scripted websockets peers, a throw-away CA."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from picows import WSFrame, WSListener, WSMsgType, WSTransport, ws_create_server
from websockets.asyncio.server import ServerConnection, serve

Script = Callable[[ServerConnection], Awaitable[Any]]


@dataclass
class Sink:
    """A FrameSink that records every call, in order."""

    events: list[tuple[str, Any]] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def _add(self, kind: str, value: Any) -> None:
        self.events.append((kind, value))
        self.changed.set()

    def on_text(self, data: bytes) -> None:
        self._add("text", data)

    def on_binary(self, payload: memoryview) -> None:
        self._add("binary", bytes(payload))

    def on_oversized(self, size: int, limit: int) -> None:
        self._add("oversized", (size, limit))

    def on_closed(self, code: int, reason: str) -> None:
        self._add("closed", (code, reason))

    def of(self, kind: str) -> list[Any]:
        return [v for k, v in self.events if k == kind]

    async def wait(self, predicate: Callable[[], bool], within: float = 5.0) -> None:
        async with asyncio.timeout(within):
            while not predicate():
                self.changed.clear()
                await self.changed.wait()


@pytest.fixture
def sink() -> Sink:
    return Sink()


@dataclass
class Peer:
    """A scripted websockets server on 127.0.0.1; ``results`` holds what each script run returned or raised."""

    url: str
    port: int
    finished: asyncio.Event = field(default_factory=asyncio.Event)
    results: list[Any] = field(default_factory=list)


@asynccontextmanager
async def scripted_peer(script: Script, **kwargs: Any) -> AsyncIterator[Peer]:
    """Serve ``script`` once per connection; TLS when ``ssl=`` is given."""
    peer: Peer | None = None

    async def handler(ws: ServerConnection) -> None:
        assert peer is not None
        try:
            peer.results.append(await script(ws))
        except Exception as exc:  # recorded for the test to assert on
            peer.results.append(exc)
        finally:
            peer.finished.set()

    async with serve(handler, "127.0.0.1", 0, compression=None, max_size=None, **kwargs) as server:
        port = server.sockets[0].getsockname()[1]
        scheme = "wss" if kwargs.get("ssl") else "ws"
        peer = Peer(f"{scheme}://127.0.0.1:{port}/ws", port)
        yield peer


class _RawSender(WSListener):
    """picows server side: sends a raw frame sequence on connect, records the client's close code."""

    def __init__(
        self, frames: Sequence[tuple[WSMsgType, bytes, bool]], got_close: asyncio.Future[int]
    ) -> None:
        super().__init__()
        self.frames = frames
        self.got_close = got_close

    def on_ws_connected(self, transport: WSTransport) -> None:
        for msg_type, payload, fin in self.frames:
            transport.send(msg_type, payload, fin=fin)

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type is WSMsgType.CLOSE and not self.got_close.done():
            self.got_close.set_result(frame.get_close_code().value)
            transport.disconnect()


@asynccontextmanager
async def raw_peer(
    frames: Sequence[tuple[WSMsgType, bytes, bool]],
) -> AsyncIterator[tuple[str, asyncio.Future[int]]]:
    """A peer that sends any frame sequence, even a broken one (``(type, payload, fin)`` each)."""
    got_close: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    server = await ws_create_server(lambda _request: _RawSender(frames, got_close), "127.0.0.1", 0)
    try:
        yield f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/", got_close
    finally:
        server.close()
        await server.wait_closed()


@dataclass(frozen=True)
class ThrowawayCA:
    """A throw-away CA and a server certificate for localhost / 127.0.0.1, made with the openssl CLI."""

    ca_file: Path
    cert_file: Path
    key_file: Path

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert_file, self.key_file)
        return ctx

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file))


@pytest.fixture(scope="session")
def test_ca(tmp_path_factory: pytest.TempPathFactory) -> ThrowawayCA:
    d = tmp_path_factory.mktemp("ca")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True, timeout=30)

    run("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=bitmart-ws test CA",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")  # fmt: skip
    run("req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost")
    (d / "ext.cnf").write_text(
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
        "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
        "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid,issuer\n"
    )
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf")  # fmt: skip
    return ThrowawayCA(d / "ca.pem", d / "server.pem", d / "server.key")
