"""Through real HTTP CONNECT and SOCKS5 proxies on 127.0.0.1, to the simulator and to TLS peers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from websockets.asyncio.server import ServerConnection

from bitmart_ws import ConfigurationError, ConnectError, ConnectTimeout, ProxyError, _transport
from bitmart_ws._proxy import parse_proxy_url
from bitmart_ws.simulator import Simulator, SimulatorConfig

from .conftest import Sink, ThrowawayCA, scripted_peer
from .proxies import HttpProxy, Socks5Proxy

PASSWORD = "S3cr3t-p@ss:word"  # needs percent-encoding in a URL
ENCODED = "S3cr3t-p%40ss%3Aword"
Proxy = HttpProxy | Socks5Proxy


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(SimulatorConfig(cadence=0.05)) as s:
        yield s


def proxy_of(kind: str, **kwargs: object) -> Proxy:
    return HttpProxy(**kwargs) if kind == "http" else Socks5Proxy(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", ["http", "socks5"])
async def test_exchange_with_the_simulator_through_an_authenticating_proxy(
    kind: str, sim: Simulator, sink: Sink
) -> None:
    url = sim.urls["spotPublicV1"]
    async with proxy_of(kind, credentials=("alice", PASSWORD)) as proxy:
        transport = await _transport.connect(url, sink, within=5, proxy=proxy.url("alice", ENCODED))
        transport.send_text(b"ping")  # spot dialect: text ping, text pong
        await sink.wait(lambda: b"pong" in sink.of("text"))
        await transport.aclose()
    port = url.split(":")[2].split("/")[0]
    assert proxy.seen.targets == [f"127.0.0.1:{port}"]
    assert proxy.seen.auth == ["ok"]
    assert proxy.seen.first_bytes[0].startswith(b"GET /")  # the upgrade itself went through the tunnel


async def test_socks5_lets_the_proxy_resolve_the_host_name(sink: Sink) -> None:
    async def script(ws: ServerConnection) -> None:
        await ws.send("hello through socks")
        await ws.wait_closed()

    async with scripted_peer(script) as peer, Socks5Proxy() as proxy:
        url = f"ws://localhost:{peer.port}/ws"
        transport = await _transport.connect(url, sink, within=5, proxy=proxy.url())
        await sink.wait(lambda: bool(sink.of("text")))
        await transport.aclose()
    assert sink.of("text") == [b"hello through socks"]
    assert proxy.seen.targets == [f"localhost:{peer.port}"]
    assert proxy.seen.address_types == [3]  # ATYP domain name: the client resolved nothing


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        (
            "http",
            r"^HTTP proxy 127\.0\.0\.1:\d+ refused CONNECT to 127\.0\.0\.1:\d+: 407 Proxy Authentication Required",
        ),
        ("socks5", r"^SOCKS5 proxy 127\.0\.0\.1:\d+ refused the credentials"),
    ],
)
async def test_wrong_credentials_give_a_clear_proxy_error(
    kind: str, expected: str, sim: Simulator, sink: Sink
) -> None:
    async with proxy_of(kind, credentials=("alice", PASSWORD)) as proxy:
        with pytest.raises(ProxyError, match=expected) as info:
            await _transport.connect(
                sim.urls["spotPublicV1"], sink, within=5, proxy=proxy.url("alice", "S3cr3t-wrong")
            )
    assert proxy.seen.auth == ["refused"]
    assert "S3cr3t" not in str(info.value) and "alice" not in str(info.value)
    assert info.value.proxy == f"127.0.0.1:{proxy.port}"
    assert info.value.status == (407 if kind == "http" else None)
    assert isinstance(info.value, ConnectError)


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("http", r"^HTTP proxy 127\.0\.0\.1:\d+ refused CONNECT to 127\.0\.0\.1:\d+: 403 Forbidden$"),
        (
            "socks5",
            r"^SOCKS5 proxy 127\.0\.0\.1:\d+ refused CONNECT to 127\.0\.0\.1:\d+: reply 0x02 \(connection not allowed by ruleset\)$",
        ),
    ],
)
async def test_a_refusing_proxy_gives_a_clear_proxy_error(
    kind: str, expected: str, sim: Simulator, sink: Sink
) -> None:
    url = sim.urls["spotPublicV1"]
    target = url.split("/")[2]
    async with proxy_of(kind, refuse=frozenset({target})) as proxy:
        with pytest.raises(ProxyError, match=expected):
            await _transport.connect(url, sink, within=5, proxy=proxy.url())
    assert proxy.seen.targets == [target]


async def test_unreachable_target_and_unreachable_proxy(sink: Sink) -> None:
    async with HttpProxy() as proxy:
        port = proxy.port
        with pytest.raises(ProxyError, match=r"502 Bad Gateway$"):
            await _transport.connect(
                "ws://127.0.0.1:9/", sink, within=5, proxy=proxy.url()
            )  # discard port: closed
    with pytest.raises(ProxyError, match=rf"^cannot reach http://127\.0\.0\.1:{port} proxy: "):
        await _transport.connect(
            "ws://127.0.0.1:9/", sink, within=5, proxy=f"http://u:S3cr3t@127.0.0.1:{port}"
        )
    assert sink.events == []


async def test_bad_proxy_url_is_refused_before_any_io(sink: Sink) -> None:
    with pytest.raises(ConfigurationError, match="'ftp' is not supported") as info:
        await _transport.connect("ws://127.0.0.1:9/", sink, within=5, proxy="ftp://u:S3cr3t@127.0.0.1:21")
    assert "S3cr3t" not in str(info.value)


async def test_tls_end_to_end_through_the_http_proxy(test_ca: ThrowawayCA, sink: Sink) -> None:
    async def script(ws: ServerConnection) -> None:
        await ws.send("secret over tls")
        await ws.wait_closed()

    async with scripted_peer(script, ssl=test_ca.server_context()) as peer, HttpProxy() as proxy:
        url = f"wss://localhost:{peer.port}/ws"
        proxy_url = parse_proxy_url(proxy.url())  # a parsed URL is accepted too
        transport = await _transport.connect(
            url, sink, within=5, proxy=proxy_url, ssl_context=test_ca.client_context()
        )
        await sink.wait(lambda: bool(sink.of("text")))
        await transport.aclose()
    assert sink.of("text") == [b"secret over tls"]
    assert proxy.seen.targets == [f"localhost:{peer.port}"]
    first = proxy.seen.first_bytes[0]
    assert first[0] == 0x16 and b"GET " not in first  # a TLS handshake record: the proxy sees ciphertext only


async def test_tls_through_the_proxy_still_verifies_the_certificate(test_ca: ThrowawayCA, sink: Sink) -> None:
    async def script(ws: ServerConnection) -> None:
        await ws.wait_closed()

    async with scripted_peer(script, ssl=test_ca.server_context()) as peer, Socks5Proxy() as proxy:
        with pytest.raises(ConnectError, match="certificate verification failed") as info:
            await _transport.connect(f"wss://localhost:{peer.port}/ws", sink, within=5, proxy=proxy.url())
    assert not isinstance(info.value, ProxyError)  # the tunnel was fine, TLS refused the server
    assert proxy.seen.targets == [f"localhost:{peer.port}"]


async def test_a_slow_proxy_is_bounded_by_within(sink: Sink) -> None:
    accepted, hung_up = asyncio.Event(), asyncio.Event()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.set()
        try:
            await reader.read()  # never answers the CONNECT; returns when the client hangs up
        finally:
            writer.close()
            hung_up.set()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    try:
        port = server.sockets[0].getsockname()[1]
        with pytest.raises(ConnectTimeout):
            await _transport.connect("ws://127.0.0.1:9/", sink, within=0.3, proxy=f"http://127.0.0.1:{port}")
        assert accepted.is_set()
        await asyncio.wait_for(hung_up.wait(), 5)  # the client closed its socket to the proxy
    finally:
        server.close()
        await server.wait_closed()
