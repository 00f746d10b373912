"""Secrets never leak: the suite's main scenarios at DEBUG for every logger, with canary credentials.

Searched: every log record (root, picows, websockets, asyncio, bitmart_ws.*, the simulator's), everything
written to stderr and stdout, the repr of every event payload, and every exception's message and repr.
Looked for: the API secret, the memo, the proxy password, every signature the client sent (read back from
``sim.received``) and every 8-character piece of each.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from bitmart_ws import WebsocketClient
from bitmart_ws.simulator import Account, Simulator, SimulatorConfig

from ..client.conftest import FAST, Recorder, wait_recovered
from ..transport.proxies import HttpProxy, Socks5Proxy

SECRET = "CANARYsecret-7f3a91c2e4"
MEMO = "CANARYmemo-b8d2"
PROXY_PASSWORD = "CANARYproxy-pw-5e6f"
API_KEY = "canary-key"
LOGGERS = ["", "picows", "websockets", "asyncio", "bitmart_ws", "bitmart_ws.simulator"]
PUBLIC = ["spot/ticker:BTC_USDT", "futures/ticker:BTCUSDT"]
PRIVATE = ["spot/user/order:BTC_USDT", "futures/position"]
KEYS = ["spotPublicV1", "futuresPublicV2", "spotPrivateV1", "futuresPrivateV2"]


def pieces(secret: str, size: int = 8) -> set[str]:
    return {secret[i : i + size] for i in range(len(secret) - size + 1)} | {secret}


def signatures(sim: Simulator) -> list[str]:
    out = []
    for frame in sim.received:
        if frame.text.startswith("{"):
            msg = json.loads(frame.text)
            if msg.get("op") == "login" or msg.get("action") == "access":
                out.append(msg["args"][2])
    return out


def texts_of(error: BaseException | None) -> list[str]:
    out: list[str] = []
    while error is not None:
        out += [str(error), repr(error)]
        error = error.__cause__ or error.__context__
    return out


@pytest.mark.parametrize("proxy_type", [None, HttpProxy, Socks5Proxy])
async def test_no_secret_in_any_output_at_debug(
    proxy_type: type[HttpProxy] | type[Socks5Proxy] | None,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    stderr_handler = logging.StreamHandler()  # the records also go to stderr, formatted with tracebacks
    logging.getLogger().addHandler(stderr_handler)
    rec = Recorder()
    raised: list[BaseException] = []
    config = SimulatorConfig(cadence=0.05, account_interval=0.1, accounts=(Account(API_KEY, SECRET, MEMO),))
    try:
        async with Simulator(config) as sim:
            options: dict[str, Any] = {**FAST, "ws_urls": sim.urls}
            options |= {"api_key": API_KEY, "api_secret": SECRET, "api_memo": MEMO}
            proxy_cm = proxy_type(credentials=("alice", PROXY_PASSWORD)) if proxy_type else None
            if proxy_cm is not None:
                await proxy_cm.__aenter__()
                options["proxy"] = proxy_cm.url("alice", PROXY_PASSWORD)
            try:
                client = WebsocketClient(**options)
                rec.attach(client)
                async with client:
                    # public + private subscribe on all four keys
                    await client.subscribe_topics(PUBLIC + PRIVATE)
                    await rec.wait(lambda: len(rec.of("update")) > 5)
                    # reconnect
                    await sim.drop_connections()
                    await rec.wait(lambda: len(rec.of("reconnected")) >= 4)
                    # refused login, then recovery
                    sim.reject_logins(1)
                    await sim.drop_connections(next(s.id for s in sim.sessions if s.is_private))
                    await sim.wait_for(lambda: sim.faults.logins_to_reject == 0)
                    await wait_recovered(sim, client, KEYS)
                    reprs = [repr(client), repr(client._settings), *map(repr, client.connections())]
                # a bad secret: refused logins end in exception events with the server's words
                bad = WebsocketClient(**{**options, "api_secret": SECRET + "x", "ack_timeout": 0.5})
                rec.attach(bad)
                async with bad:
                    try:
                        await bad.subscribe_topics(PRIVATE[:1])
                    except Exception as failure:
                        raised.append(failure)
            finally:
                if proxy_cm is not None:
                    await proxy_cm.__aexit__(None, None, None)
            sent = signatures(sim)
    finally:
        logging.getLogger().removeHandler(stderr_handler)
    assert len(sent) >= 6  # logins on both keys, again after the reconnect and the refusal
    assert any(n == "exception" for n in rec.names())
    captured = capsys.readouterr()
    haystack = [r.getMessage() for r in caplog.records]
    haystack += [logging.Formatter().format(r) for r in caplog.records]  # tracebacks included
    haystack += [captured.err, captured.out, *reprs]
    for _, payload in rec.events:
        haystack.append(repr(payload))
        error = payload.get("error")
        if isinstance(error, BaseException):
            haystack += texts_of(error)
    for error in raised:
        haystack += texts_of(error)
    assert sum(len(h) for h in haystack) > 10_000  # DEBUG really was on
    needles = pieces(SECRET) | pieces(MEMO) | pieces(PROXY_PASSWORD)
    for signature in sent:
        needles |= pieces(signature)
    leaks = sorted({n for n in needles for h in haystack if n in h})
    assert not leaks, leaks
