"""Login signatures (identical for spot ``login`` and futures ``access``)."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field

__all__ = ["SIGN_SUFFIX", "Credentials", "sign", "sign_payload"]

SIGN_SUFFIX = "bitmart.WebSocket"


def sign_payload(timestamp_ms: int | str, memo: str) -> str:
    """The pre-sign string ``"{timestamp}#{memo}#bitmart.WebSocket"``."""
    return f"{timestamp_ms}#{memo}#{SIGN_SUFFIX}"


def sign(secret: str, memo: str, timestamp_ms: int | str) -> str:
    """Lower-case hex HMAC-SHA256 of the pre-sign string, keyed with the API secret."""
    return hmac.new(secret.encode(), sign_payload(timestamp_ms, memo).encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class Credentials:
    """An API key with its secret and memo; the repr never shows the secret or the memo."""

    api_key: str
    api_secret: str = field(repr=False)
    api_memo: str = field(repr=False)

    def __repr__(self) -> str:
        return f"Credentials(api_key={_mask(self.api_key)!r}, api_secret='***', api_memo='***')"

    __str__ = __repr__

    def sign(self, timestamp_ms: int) -> str:
        return sign(self.api_secret, self.api_memo, timestamp_ms)


def _mask(key: str) -> str:
    return key[:4] + "***" if len(key) > 8 else "***"
