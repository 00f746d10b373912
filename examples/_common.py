"""Shared settings of the examples: where to connect, which account, how long to run.

Every example runs against BitMart's live URLs by default. To run one offline against the bundled
simulator, start it in another terminal (``bitmart-ws simulate``: its first line is a JSON object of
URLs) and pass that line and the simulator's default account::

    export BITMART_WS_URLS='{"spotPublicV1": "ws://127.0.0.1:...", ...}'
    export BITMART_API_KEY=sim-key BITMART_API_SECRET=sim-secret BITMART_API_MEMO=sim-memo
    python examples/spot_public.py

Environment variables:
    BITMART_WS_URLS       JSON object mapping connection keys to URLs (as printed by ``bitmart-ws simulate``)
    BITMART_API_KEY, BITMART_API_SECRET, BITMART_API_MEMO   credentials for private topics
    BITMART_WS_SECONDS    stop after this many seconds (default: run until Ctrl-C)
"""

from __future__ import annotations

import json
import os
from typing import Any


def client_options() -> dict[str, Any]:
    """Keyword arguments for ``WebsocketClient`` from the environment."""
    options: dict[str, Any] = {}
    urls = os.environ.get("BITMART_WS_URLS")
    if urls:
        options["ws_urls"] = json.loads(urls)
    for name in ("api_key", "api_secret", "api_memo"):
        value = os.environ.get(f"BITMART_{name.upper()}")
        if value:
            options[name] = value
    return options


def run_seconds() -> float | None:
    value = os.environ.get("BITMART_WS_SECONDS")
    return float(value) if value else None
