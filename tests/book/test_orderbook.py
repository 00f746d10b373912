"""OrderBook against the naive book, and its readers."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from bitmart_ws.book import BookSnapshot, OrderBook

from .helpers import NaiveBook

D = Decimal
level = st.tuples(st.integers(1, 60), st.sampled_from(["0", "0.00000", "1", "2.5", "0.001", "7"]))
side = st.lists(level, max_size=12)


@given(st.lists(st.tuples(side, side), max_size=30), st.sampled_from([None, 1, 5, 20]))
def test_same_as_the_naive_book(
    updates: list[tuple[list[tuple[int, str]], list[tuple[int, str]]]], depth: int | None
) -> None:
    book: OrderBook[Decimal] = OrderBook()
    naive = NaiveBook()
    for asks, bids in updates:
        book.apply([(D(p), D(s)) for p, s in asks], [(D(p), D(s)) for p, s in bids])
        naive.apply(asks, bids)
        assert (book.bids(depth), book.asks(depth)) == naive.view(depth)
        assert len(book) == len(naive.asks) + len(naive.bids)
        assert book.crossed == (bool(naive.asks and naive.bids) and max(naive.bids) >= min(naive.asks))


def test_zero_in_any_form_deletes_and_depth_trims() -> None:
    book: OrderBook[Decimal] = OrderBook(depth=2)
    book.replace(
        [(D("10"), D("1")), (D("11"), D("2")), (D("12"), D("3"))], [(D("9"), D("1")), (D("8.0"), D("1"))]
    )
    assert book.asks() == ((D("10"), D("1")), (D("11"), D("2")))  # 12 is beyond the depth
    book.apply([(D("10.00"), D("0.00000"))], [(D("8"), D("0"))])  # 10.00 == 10, 8 == 8.0
    assert book.asks() == ((D("11"), D("2")),) and book.bids() == ((D("9"), D("1")),)
    assert book.best_bid() == (D("9"), D("1")) and book.best_ask() == (D("11"), D("2"))
    book.apply([(D("13"), D("0"))], [])  # deleting an unknown level is nothing
    assert len(book) == 2
    book.clear()
    assert book.best_bid() is None and book.best_ask() is None and not book.crossed


def test_float_prices() -> None:
    book: OrderBook[float] = OrderBook()
    book.replace([(101.5, 1.0), (100.5, 2.0)], [(99.5, 3.0), (99.0, 0.0)])
    assert book.asks() == ((100.5, 2.0), (101.5, 1.0)) and book.bids() == ((99.5, 3.0),)


def test_snapshot_readers() -> None:
    snap = BookSnapshot(((D("9"), D("1")),), ((D("10.5"), D("2")),), 7, True)
    assert (
        snap.best_bid == (D("9"), D("1")) and snap.best_ask == (D("10.5"), D("2")) and snap.spread == D("1.5")
    )
    empty: BookSnapshot[Decimal] = BookSnapshot((), (), None, False)
    assert empty.best_bid is None and empty.best_ask is None and empty.spread is None
