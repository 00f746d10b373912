"""Small real proxies on 127.0.0.1 for the tests: HTTP CONNECT and SOCKS5 (RFC 1928/1929).

Independent of ``bitmart_ws._proxy`` on purpose (stream-based, written from the RFCs). Each checks
credentials when configured, refuses chosen targets, relays bytes both ways, and records what it saw:
the CONNECT targets, the address type (SOCKS5) and the first bytes the client sent through the tunnel.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ipaddress
import struct
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self


@dataclass
class Seen:
    targets: list[str] = field(default_factory=list)  # "host:port" as asked
    address_types: list[int] = field(default_factory=list)  # SOCKS5 ATYP of each request
    first_bytes: list[bytes] = field(default_factory=list)  # the first chunk the client tunnelled
    auth: list[str] = field(default_factory=list)  # "ok" / "refused" per handshake


class _Proxy:
    scheme = ""

    def __init__(
        self, credentials: tuple[str, str] | None = None, refuse: frozenset[str] = frozenset()
    ) -> None:
        self.credentials = credentials
        self.refuse = refuse
        self.seen = Seen()
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    def url(self, user: str | None = None, password: str | None = None) -> str:
        auth = f"{user}:{password}@" if user is not None else ""
        return f"{self.scheme}://{auth}127.0.0.1:{self.port}"

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(writer)
        try:
            upstream = await self.handshake(reader, writer)
            if upstream is not None:
                await self._relay(reader, writer, *upstream)
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            self._writers.discard(writer)
            self._tasks.discard(task)

    async def handshake(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        raise NotImplementedError

    async def _relay(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        up_reader: asyncio.StreamReader,
        up_writer: asyncio.StreamWriter,
    ) -> None:
        self._writers.add(up_writer)
        first = await reader.read(65536)
        self.seen.first_bytes.append(first)
        up_writer.write(first)

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        try:
            await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer))
        finally:
            up_writer.close()
            self._writers.discard(up_writer)


class HttpProxy(_Proxy):
    """HTTP CONNECT proxy: 407 on missing/wrong Basic credentials, 403 for refused targets, 502 if unreachable."""

    scheme = "http"

    async def handshake(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        request_line, *header_lines = head.split("\r\n")
        method, target, _version = request_line.split(" ")
        headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines if h)}
        self.seen.targets.append(target)
        if method != "CONNECT":
            self._reply(writer, "405 Method Not Allowed")
            return None
        if self.credentials is not None:
            expected = "Basic " + base64.b64encode(":".join(self.credentials).encode()).decode()
            if headers.get("proxy-authorization") != expected:
                self.seen.auth.append("refused")
                self._reply(
                    writer, '407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="t"'
                )
                return None
            self.seen.auth.append("ok")
        if target in self.refuse:
            self._reply(writer, "403 Forbidden")
            return None
        host, _, port = target.rpartition(":")
        try:
            upstream = await asyncio.open_connection(host.strip("[]"), int(port))
        except OSError:
            self._reply(writer, "502 Bad Gateway")
            return None
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        return upstream

    @staticmethod
    def _reply(writer: asyncio.StreamWriter, status: str) -> None:
        writer.write(f"HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n".encode())


class Socks5Proxy(_Proxy):
    """SOCKS5 proxy: user/password (RFC 1929) when configured, reply 0x02 for refused targets, 0x05 if unreachable."""

    scheme = "socks5"

    async def handshake(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        version, n = await reader.readexactly(2)
        methods = await reader.readexactly(n)
        assert version == 5
        wanted = 0x02 if self.credentials is not None else 0x00
        if wanted not in methods:
            writer.write(b"\x05\xff")
            return None
        writer.write(bytes((5, wanted)))
        if self.credentials is not None:
            _sub, ulen = await reader.readexactly(2)
            user = (await reader.readexactly(ulen)).decode()
            plen = (await reader.readexactly(1))[0]
            password = (await reader.readexactly(plen)).decode()
            ok = (user, password) == self.credentials
            self.seen.auth.append("ok" if ok else "refused")
            writer.write(b"\x01\x00" if ok else b"\x01\x01")
            if not ok:
                return None
        _v, cmd, _rsv, atyp = await reader.readexactly(4)
        if atyp == 1:
            host = str(ipaddress.IPv4Address(await reader.readexactly(4)))
        elif atyp == 4:
            host = str(ipaddress.IPv6Address(await reader.readexactly(16)))
        else:
            host = (await reader.readexactly((await reader.readexactly(1))[0])).decode()
        (port,) = struct.unpack("!H", await reader.readexactly(2))
        target = f"{host}:{port}"
        self.seen.targets.append(target)
        self.seen.address_types.append(atyp)
        if cmd != 1:
            self._reply(writer, 0x07)
            return None
        if target in self.refuse:
            self._reply(writer, 0x02)
            return None
        try:
            upstream = await asyncio.open_connection(host, port)
        except OSError:
            self._reply(writer, 0x05)
            return None
        self._reply(writer, 0x00)
        return upstream

    @staticmethod
    def _reply(writer: asyncio.StreamWriter, code: int) -> None:
        writer.write(bytes((5, code, 0, 1)) + bytes(4) + b"\x00\x00")
