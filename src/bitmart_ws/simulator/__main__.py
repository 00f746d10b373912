"""``python -m bitmart_ws.simulator``: the same as ``bitmart-ws simulate``."""

from __future__ import annotations

import sys

from ..cli import main

if __name__ == "__main__":
    sys.exit(main(["simulate", *sys.argv[1:]]))
