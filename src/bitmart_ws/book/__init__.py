"""Local order books, sans-I/O: :class:`OrderBook` (sorted levels) and :class:`BookSync` (BitMart's
``version`` rules as a state machine that takes time as a parameter). See ``docs/order-books.md``.
"""

from .orderbook import BookSnapshot, OrderBook
from .sync import BookState, BookSync, Invalidated, Output, Reason, Restored, Resubscribe, SendRequest

__all__ = [
    "BookSnapshot",
    "BookState",
    "BookSync",
    "Invalidated",
    "OrderBook",
    "Output",
    "Reason",
    "Restored",
    "Resubscribe",
    "SendRequest",
]
