"""Connection keys, markets and the URLs that serve them."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["DEMO_URLS", "LIVE_URLS", "Market", "WsKey"]


class Market(StrEnum):
    """A BitMart market; it also names the wire dialect (spot: ``op``, futures: ``action``)."""

    SPOT = "spot"
    FUTURES = "futures"


class WsKey(StrEnum):
    """The six connection keys of the reference client; each names one kind of connection."""

    SPOT_PUBLIC_V1 = "spotPublicV1"
    SPOT_PRIVATE_V1 = "spotPrivateV1"
    FUTURES_PUBLIC_V1 = "futuresPublicV1"
    FUTURES_PRIVATE_V1 = "futuresPrivateV1"
    FUTURES_PUBLIC_V2 = "futuresPublicV2"
    FUTURES_PRIVATE_V2 = "futuresPrivateV2"

    @property
    def market(self) -> Market:
        return Market.SPOT if self.value.startswith("spot") else Market.FUTURES

    @property
    def is_private(self) -> bool:
        return "Private" in self.value

    @property
    def path(self) -> str:
        """The URL path that serves this key: ``/user`` for private keys, ``/api`` for public ones."""
        return "/user" if self.is_private else "/api"

    def url(self, *, demo: bool = False) -> str:
        """The default URL of this key; ``demo`` selects BitMart's futures v2 demo host where one exists."""
        if demo and self in DEMO_URLS:
            return DEMO_URLS[self]
        return LIVE_URLS[self]

    @classmethod
    def for_topic(cls, market: Market, is_private: bool) -> WsKey:
        """The key that carries a topic of this market and privacy (futures: always v2)."""
        if market is Market.SPOT:
            return cls.SPOT_PRIVATE_V1 if is_private else cls.SPOT_PUBLIC_V1
        return cls.FUTURES_PRIVATE_V2 if is_private else cls.FUTURES_PUBLIC_V2


LIVE_URLS: dict[WsKey, str] = {
    WsKey.SPOT_PUBLIC_V1: "wss://ws-manager-compress.bitmart.com/api?protocol=1.1",
    WsKey.SPOT_PRIVATE_V1: "wss://ws-manager-compress.bitmart.com/user?protocol=1.1",
    WsKey.FUTURES_PUBLIC_V1: "wss://openapi-ws.bitmart.com/api?protocol=1.1",
    WsKey.FUTURES_PRIVATE_V1: "wss://openapi-ws.bitmart.com/user?protocol=1.1",
    WsKey.FUTURES_PUBLIC_V2: "wss://openapi-ws-v2.bitmart.com/api?protocol=1.1",
    WsKey.FUTURES_PRIVATE_V2: "wss://openapi-ws-v2.bitmart.com/user?protocol=1.1",
}

DEMO_URLS: dict[WsKey, str] = {
    WsKey.FUTURES_PUBLIC_V2: "wss://openapi-wsdemo-v2.bitmart.com/api?protocol=1.1",
    WsKey.FUTURES_PRIVATE_V2: "wss://openapi-wsdemo-v2.bitmart.com/user?protocol=1.1",
}
