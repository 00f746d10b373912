"""wss:// against a TLS websockets server whose certificate comes from a throw-away CA."""

from __future__ import annotations

import ssl

import pytest
from websockets.asyncio.server import ServerConnection

from bitmart_ws import ConfigurationError, ConnectError, _transport

from .conftest import Sink, ThrowawayCA, scripted_peer


async def echo_once(ws: ServerConnection) -> None:
    await ws.send(await ws.recv())
    await ws.wait_closed()


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
async def test_a_context_trusting_the_ca_connects(host: str, test_ca: ThrowawayCA, sink: Sink) -> None:
    async with scripted_peer(echo_once, ssl=test_ca.server_context()) as peer:
        url = f"wss://{host}:{peer.port}/ws"
        transport = await _transport.connect(url, sink, within=5, ssl_context=test_ca.client_context())
        transport.send_text(b"over tls")
        await sink.wait(lambda: bool(sink.of("text")))
        assert await transport.aclose() == (1000, "")
    assert sink.of("text") == [b"over tls"]


async def test_the_default_context_refuses_an_unknown_ca(test_ca: ThrowawayCA, sink: Sink) -> None:
    async with scripted_peer(echo_once, ssl=test_ca.server_context()) as peer:
        with pytest.raises(ConnectError, match="TLS certificate verification failed for wss://") as info:
            await _transport.connect(peer.url, sink, within=5)
    assert "self-signed certificate in certificate chain" in str(info.value) or "unable to get" in str(
        info.value
    )
    assert isinstance(info.value.__cause__, ssl.SSLCertVerificationError)
    assert sink.events == []


def _no_hostname_check(ca: ThrowawayCA) -> ssl.SSLContext:
    ctx = ca.client_context()
    ctx.check_hostname = False
    return ctx


def _no_verification(ca: ThrowawayCA) -> ssl.SSLContext:
    ctx = _no_hostname_check(ca)
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


@pytest.mark.parametrize("make", [_no_hostname_check, _no_verification])
async def test_a_context_that_does_not_verify_is_refused(make, test_ca: ThrowawayCA, sink: Sink) -> None:
    with pytest.raises(ConfigurationError, match="ssl_context must verify certificates"):
        await _transport.connect("wss://127.0.0.1:9/", sink, within=5, ssl_context=make(test_ca))
