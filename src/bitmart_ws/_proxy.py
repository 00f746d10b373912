"""Tunnels through an HTTP CONNECT or SOCKS5 proxy, for the transport's socket factory.

The wire formats are pure functions (URL parsing, the CONNECT request and reply, SOCKS5 messages of
RFC 1928 and RFC 1929), tested without sockets; :func:`open_tunnel` is the only I/O: it speaks them
over a connected non-blocking socket and returns it ready for TLS and the WebSocket upgrade.

Credentials never appear in a message, repr or log: :class:`ProxyURL` shows ``scheme://host:port``.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import logging
import socket
import struct
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import unquote, urlsplit

from .exceptions import ConfigurationError, ProxyError

__all__ = [
    "ProxyURL",
    "connect_request",
    "connect_reply_status",
    "open_tunnel",
    "parse_proxy_url",
    "socks5_auth_request",
    "socks5_check_auth_reply",
    "socks5_choose_method",
    "socks5_connect_request",
    "socks5_greeting",
    "socks5_reply_remaining",
]

logger = logging.getLogger("bitmart_ws.proxy")

# scheme -> the protocol spoken (socks5h is curl's spelling of "the proxy resolves": we always do).
_SCHEMES: Final[dict[str, str]] = {"http": "http", "socks5": "socks5", "socks5h": "socks5"}
MAX_REPLY_HEAD: Final = 16 * 1024  # an HTTP proxy's reply head longer than this is refused

_SOCKS_VERSION: Final = 5
_NO_AUTH: Final = 0x00
_USER_PASS: Final = 0x02
_NO_ACCEPTABLE: Final = 0xFF
_CMD_CONNECT: Final = 0x01
_ATYP_IPV4: Final = 0x01
_ATYP_DOMAIN: Final = 0x03
_ATYP_IPV6: Final = 0x04
# REP field of a SOCKS5 reply (RFC 1928 §6).
SOCKS5_REPLIES: Final[dict[int, str]] = {
    0x01: "general SOCKS server failure",
    0x02: "connection not allowed by ruleset",
    0x03: "network unreachable",
    0x04: "host unreachable",
    0x05: "connection refused",
    0x06: "TTL expired",
    0x07: "command not supported",
    0x08: "address type not supported",
}


class ProxyProtocolError(ValueError):
    """A proxy reply that does not follow its protocol (pure layer; :func:`open_tunnel` wraps it)."""


@dataclass(frozen=True, slots=True)
class ProxyURL:
    """A validated proxy URL. ``repr``/``str`` never show the credentials."""

    scheme: str  # "http" or "socks5"
    host: str
    port: int
    username: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)

    @property
    def address(self) -> str:
        """``host:port`` (IPv6 in brackets), for messages."""
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    def __str__(self) -> str:
        return f"{self.scheme}://{self.address}"


def parse_proxy_url(url: str) -> ProxyURL:
    """Parse ``http://[user:pass@]host:port`` or ``socks5://[user:pass@]host:port``.

    User and password may be percent-encoded (``%40`` for ``@``). ``socks5h://`` is accepted as
    ``socks5://`` (the proxy always resolves the target's hostname).

    Raises:
        ConfigurationError: unsupported scheme, missing host or port, a path, or SOCKS5 credentials
            out of RFC 1929 bounds. The message never contains the credentials.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ConfigurationError("proxy URL is malformed (expected scheme://[user:pass@]host:port)") from None
    scheme = parts.scheme.lower()
    host = parts.hostname
    shown = f"{scheme}://{host or ''}:{port or ''}"
    if scheme not in _SCHEMES:
        raise ConfigurationError(
            f"proxy scheme {scheme!r} is not supported (use http:// or socks5://)"
            if scheme
            else "proxy URL needs a scheme: http:// or socks5://"
        )
    if not host or port is None or port == 0:
        raise ConfigurationError(f"proxy URL {shown} needs a host and a port (scheme://host:port)")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ConfigurationError(f"proxy URL {shown} must not have a path, query or fragment")
    username = unquote(parts.username) if parts.username is not None else None
    password = unquote(parts.password) if parts.password is not None else None
    kind = _SCHEMES[scheme]
    if kind == "socks5" and username is not None:
        for what, value in (("user name", username), ("password", password or "")):
            if not 1 <= len(value.encode()) <= 255:
                raise ConfigurationError(f"proxy {shown}: SOCKS5 {what} must be 1 to 255 bytes (RFC 1929)")
    return ProxyURL(kind, host, port, username, password)


def _authority(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


# -- HTTP CONNECT (RFC 9110 §9.3.6) ---------------------------------------------------------------


def connect_request(host: str, port: int, username: str | None = None, password: str | None = None) -> bytes:
    """The CONNECT request for ``host:port``, with ``Proxy-Authorization: Basic`` when a user is given."""
    target = _authority(host, port)
    lines = [f"CONNECT {target} HTTP/1.1", f"Host: {target}"]
    if username is not None:
        token = base64.b64encode(f"{username}:{password or ''}".encode()).decode("ascii")
        lines.append(f"Proxy-Authorization: Basic {token}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def connect_reply_status(head: bytes) -> tuple[int, str]:
    """``(status, reason)`` of a CONNECT reply head (the bytes up to and including the blank line)."""
    status_line = head.split(b"\r\n", 1)[0].decode("latin-1")
    parts = status_line.split(" ", 2)
    if (
        len(parts) < 2
        or not parts[0].startswith("HTTP/1.")
        or not (parts[1].isdigit() and len(parts[1]) == 3)
    ):
        raise ProxyProtocolError(f"not an HTTP reply: {status_line[:80]!r}")
    return int(parts[1]), (parts[2] if len(parts) > 2 else "")


# -- SOCKS5 (RFC 1928, RFC 1929) ------------------------------------------------------------------


def socks5_greeting(with_credentials: bool) -> bytes:
    """The method-selection message: user/password only when credentials are given, else no-auth."""
    return bytes((_SOCKS_VERSION, 1, _USER_PASS if with_credentials else _NO_AUTH))


def socks5_choose_method(reply: bytes, with_credentials: bool) -> bool:
    """Check the proxy's 2-byte method choice; ``True`` when user/password authentication follows."""
    if len(reply) != 2 or reply[0] != _SOCKS_VERSION:
        raise ProxyProtocolError(f"not a SOCKS5 method reply: {reply.hex()}")
    wanted = _USER_PASS if with_credentials else _NO_AUTH
    if reply[1] != wanted:
        if reply[1] == _NO_ACCEPTABLE:
            raise ProxyProtocolError(
                "SOCKS5 proxy accepts none of our methods"
                + (" (it requires credentials)" if not with_credentials else " (user/password)")
            )
        raise ProxyProtocolError(f"SOCKS5 proxy chose method {reply[1]:#04x}, not offered")
    return wanted == _USER_PASS


def socks5_auth_request(username: str, password: str) -> bytes:
    """RFC 1929 user/password request (each 1..255 bytes, checked by :func:`parse_proxy_url`)."""
    user, pwd = username.encode(), password.encode()
    return bytes((1, len(user))) + user + bytes((len(pwd),)) + pwd


def socks5_check_auth_reply(reply: bytes) -> bool:
    """``True`` when the RFC 1929 reply accepts the credentials."""
    if len(reply) != 2 or reply[0] not in (1, _SOCKS_VERSION):  # some servers echo 5 in VER
        raise ProxyProtocolError(f"not a SOCKS5 authentication reply: {reply.hex()}")
    return reply[1] == 0


def socks5_connect_request(host: str, port: int) -> bytes:
    """CONNECT to ``host:port``: IP literals as such, names as ATYP domain (the proxy resolves them)."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        try:
            name = host.encode("idna")
        except UnicodeError:  # an empty or over-long label
            name = b""
        if not 1 <= len(name) <= 255:
            raise ConfigurationError(f"host name {host[:64]!r} cannot be sent to a SOCKS5 proxy") from None
        address = bytes((_ATYP_DOMAIN, len(name))) + name
    else:
        address = bytes((_ATYP_IPV4 if ip.version == 4 else _ATYP_IPV6,)) + ip.packed
    return bytes((_SOCKS_VERSION, _CMD_CONNECT, 0)) + address + struct.pack("!H", port)


def socks5_reply_remaining(head: bytes) -> int:
    """From the first 5 bytes of a CONNECT reply, how many bytes of it remain to read.

    This checks the framing only; the REP byte (0 = succeeded) is ``head[1]``.

    Raises:
        ProxyProtocolError: not a SOCKS5 reply.
    """
    if len(head) != 5 or head[0] != _SOCKS_VERSION:
        raise ProxyProtocolError(f"not a SOCKS5 reply: {head.hex()}")
    atyp = head[3]
    # BND.ADDR (its first byte is head[4]) then BND.PORT (2 bytes)
    if atyp == _ATYP_IPV4:
        return 4 - 1 + 2
    if atyp == _ATYP_IPV6:
        return 16 - 1 + 2
    if atyp == _ATYP_DOMAIN:
        return head[4] + 2
    raise ProxyProtocolError(f"SOCKS5 reply with unknown address type {atyp:#04x}")


# -- I/O ------------------------------------------------------------------------------------------


async def _recv_exactly(loop: asyncio.AbstractEventLoop, sock: socket.socket, n: int) -> bytes:
    data = bytearray()
    while len(data) < n:
        chunk = await loop.sock_recv(sock, n - len(data))
        if not chunk:
            raise ProxyProtocolError("the proxy closed the connection during the handshake")
        data += chunk
    return bytes(data)


async def _recv_head(loop: asyncio.AbstractEventLoop, sock: socket.socket) -> bytes:
    data = bytearray()
    while (end := data.find(b"\r\n\r\n")) < 0:
        if len(data) > MAX_REPLY_HEAD:
            raise ProxyProtocolError(f"reply head longer than {MAX_REPLY_HEAD} bytes")
        chunk = await loop.sock_recv(sock, 4096)
        if not chunk:
            raise ProxyProtocolError("the proxy closed the connection before replying")
        data += chunk
    if end + 4 != len(data):  # the server speaks only after our TLS hello / upgrade request
        raise ProxyProtocolError("unexpected data after the CONNECT reply")
    return bytes(data)


async def _http_connect(
    loop: asyncio.AbstractEventLoop, sock: socket.socket, proxy: ProxyURL, host: str, port: int
) -> None:
    await loop.sock_sendall(sock, connect_request(host, port, proxy.username, proxy.password))
    status, reason = connect_reply_status(await _recv_head(loop, sock))
    if not 200 <= status < 300:
        hint = {407: " (proxy authentication required or refused)"}.get(status, "")
        raise ProxyError(
            f"HTTP proxy {proxy.address} refused CONNECT to {_authority(host, port)}: "
            f"{status} {reason}{hint}".rstrip(),
            proxy=proxy.address,
            status=status,
        )


async def _socks5_connect(
    loop: asyncio.AbstractEventLoop, sock: socket.socket, proxy: ProxyURL, host: str, port: int
) -> None:
    with_credentials = proxy.username is not None
    await loop.sock_sendall(sock, socks5_greeting(with_credentials))
    if socks5_choose_method(await _recv_exactly(loop, sock, 2), with_credentials):
        assert proxy.username is not None
        await loop.sock_sendall(sock, socks5_auth_request(proxy.username, proxy.password or ""))
        if not socks5_check_auth_reply(await _recv_exactly(loop, sock, 2)):
            raise ProxyError(
                f"SOCKS5 proxy {proxy.address} refused the credentials (RFC 1929 authentication failed)",
                proxy=proxy.address,
            )
    await loop.sock_sendall(sock, socks5_connect_request(host, port))
    head = await _recv_exactly(loop, sock, 5)
    remaining = socks5_reply_remaining(head)
    if head[1] != 0:
        text = SOCKS5_REPLIES.get(head[1], "unknown error")
        raise ProxyError(
            f"SOCKS5 proxy {proxy.address} refused CONNECT to {_authority(host, port)}: "
            f"reply {head[1]:#04x} ({text})",
            proxy=proxy.address,
        )
    await _recv_exactly(loop, sock, remaining)


async def open_tunnel(
    loop: asyncio.AbstractEventLoop, sock: socket.socket, proxy: ProxyURL, host: str, port: int
) -> None:
    """Over ``sock`` (connected to the proxy, non-blocking), open a tunnel to ``host:port``.

    Raises:
        ProxyError: the proxy refused (HTTP status, SOCKS5 reply, authentication), broke its
            protocol, or closed the connection. The message names the proxy, never its credentials.
    """
    logger.debug("opening a tunnel to %s through %s", _authority(host, port), proxy)
    try:
        if proxy.scheme == "http":
            await _http_connect(loop, sock, proxy, host, port)
        else:
            await _socks5_connect(loop, sock, proxy, host, port)
    except ProxyProtocolError as exc:
        raise ProxyError(f"{proxy.scheme} proxy {proxy.address}: {exc}", proxy=proxy.address) from None
    except OSError as exc:
        raise ProxyError(
            f"{proxy.scheme} proxy {proxy.address}: connection failed during the handshake: {exc}",
            proxy=proxy.address,
        ) from exc
