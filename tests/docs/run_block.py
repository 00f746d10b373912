"""Run one Python block of the docs against the simulator: ``python run_block.py FILE``.

The only change to the block: every :class:`WebsocketClient` built without ``ws_urls`` gets the
simulator's URLs (from ``BITMART_WS_URLS``), as a user would pass ``ws_urls=...``. Everything else
(the client, the sockets, the server) is real.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from bitmart_ws import client as client_module

URLS: dict[str, str] = json.loads(os.environ["BITMART_WS_URLS"])
_original_init = client_module.WebsocketClient.__init__


def _init_with_simulator_urls(self: Any, *args: Any, **kwargs: Any) -> None:
    kwargs.setdefault("ws_urls", URLS)
    _original_init(self, *args, **kwargs)


client_module.WebsocketClient.__init__ = _init_with_simulator_urls  # type: ignore[method-assign]

if __name__ == "__main__":
    path = sys.argv[1]
    with open(path, encoding="utf-8") as source:
        code = compile(source.read(), path, "exec")
    exec(code, {"__name__": "__main__", "__file__": path})
