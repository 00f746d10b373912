from __future__ import annotations

import pytest

from bitmart_ws.protocol import Credentials, Market, WsKey, sign, sign_payload


def test_official_signature_test_vector() -> None:
    secret = "6c6c98544461bbe71db2bca4c6d7fd0021e0ba9efc215f9c6ad41852df9d9df9"
    assert sign_payload(1589267764859, "test001") == "1589267764859#test001#bitmart.WebSocket"
    assert (
        sign(secret, "test001", 1589267764859)
        == "3ceeb7e1b8cb165a975e28a2e2dfaca4d30b358873c0351c1a071d8c83314556"
    )
    assert sign(secret, "test001", "1589267764859") == sign(secret, "test001", 1589267764859)


def test_signature_depends_on_every_input() -> None:
    base = sign("s", "m", 1)
    assert len({base, sign("t", "m", 1), sign("s", "n", 1), sign("s", "m", 2)}) == 4
    assert base == base.lower() and len(base) == 64


def test_credentials_never_show_secret_or_memo() -> None:
    creds = Credentials("abcdefghijkl", "TOPSECRET", "MYMEMO")
    for text in (repr(creds), str(creds), f"{creds}"):
        assert "TOPSECRET" not in text and "MYMEMO" not in text and "abcdefghijkl" not in text
    assert creds.sign(5) == sign("TOPSECRET", "MYMEMO", 5)


@pytest.mark.parametrize(
    ("key", "market", "private", "live", "demo"),
    [
        (
            WsKey.SPOT_PUBLIC_V1,
            Market.SPOT,
            False,
            "wss://ws-manager-compress.bitmart.com/api?protocol=1.1",
            None,
        ),
        (
            WsKey.SPOT_PRIVATE_V1,
            Market.SPOT,
            True,
            "wss://ws-manager-compress.bitmart.com/user?protocol=1.1",
            None,
        ),
        (
            WsKey.FUTURES_PUBLIC_V1,
            Market.FUTURES,
            False,
            "wss://openapi-ws.bitmart.com/api?protocol=1.1",
            None,
        ),
        (
            WsKey.FUTURES_PRIVATE_V1,
            Market.FUTURES,
            True,
            "wss://openapi-ws.bitmart.com/user?protocol=1.1",
            None,
        ),
        (
            WsKey.FUTURES_PUBLIC_V2,
            Market.FUTURES,
            False,
            "wss://openapi-ws-v2.bitmart.com/api?protocol=1.1",
            "wss://openapi-wsdemo-v2.bitmart.com/api?protocol=1.1",
        ),
        (
            WsKey.FUTURES_PRIVATE_V2,
            Market.FUTURES,
            True,
            "wss://openapi-ws-v2.bitmart.com/user?protocol=1.1",
            "wss://openapi-wsdemo-v2.bitmart.com/user?protocol=1.1",
        ),
    ],
)
def test_keys(key: WsKey, market: Market, private: bool, live: str, demo: str | None) -> None:
    assert key.market is market
    assert key.is_private is private
    assert key.path == ("/user" if private else "/api")
    assert key.url() == live
    assert key.url(demo=True) == (demo or live)
    assert WsKey(key.value) is key


def test_key_values_are_the_reference_names() -> None:
    assert [k.value for k in WsKey] == [
        "spotPublicV1",
        "spotPrivateV1",
        "futuresPublicV1",
        "futuresPrivateV1",
        "futuresPublicV2",
        "futuresPrivateV2",
    ]
