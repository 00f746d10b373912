"""BookSync: one table-driven case per rule, spot and futures."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bitmart_ws.book import BookState, BookSync, Invalidated, Reason, Restored, Resubscribe, SendRequest

from .helpers import FUTURES_TOPIC, SPOT_TOPIC, push

D = Decimal
BOTH = pytest.mark.parametrize("topic", [SPOT_TOPIC, FUTURES_TOPIC], ids=["spot", "futures"])
ASKS = [("101", "1"), ("102", "2")]
BIDS = [("99", "3"), ("98", "4")]


def synced(topic: str, version: int = 10, now: float = 0.0, **options: float) -> BookSync:
    sync = BookSync(topic, **options)  # type: ignore[arg-type]
    assert sync.push(push(topic, "snapshot", 1), now) == []  # before connected(): ignored
    sync.connected(now)
    assert sync.push(push(topic, "snapshot", version, ASKS, BIDS), now) == [Restored(version)]
    return sync


def levels(sync: BookSync) -> tuple[object, ...]:
    snap = sync.snapshot()
    return snap.bids, snap.asks


@BOTH
def test_snapshot_then_next_version_is_applied(topic: str) -> None:
    sync = synced(topic)
    assert sync.push(push(topic, "update", 11, [("101", "0"), ("103", "5")], [("99", "2.5")]), 1.0) == []
    snap = sync.snapshot()
    assert snap.valid and snap.version == 11 and sync.version == 11
    assert snap.asks == ((D(102), D(2)), (D(103), D(5))) and snap.bids == ((D(99), D("2.5")), (D(98), D(4)))
    assert sync.snapshot(levels=1).bids == ((D(99), D("2.5")),)


@BOTH
@pytest.mark.parametrize(("version", "what"), [(10, "duplicate"), (7, "stale")])
def test_duplicate_and_stale_versions_are_dropped(topic: str, version: int, what: str) -> None:
    sync = synced(topic)
    before = levels(sync)
    assert sync.push(push(topic, "update", version, [("101", "0")], [("50", "1")]), 1.0) == []
    assert sync.valid and sync.version == 10 and levels(sync) == before, what


def test_spot_heartbeat_repeats_the_version_and_keeps_the_book_alive() -> None:
    sync = synced(SPOT_TOPIC, stall_timeout=5.0)
    for now in (4.0, 8.0, 12.0, 16.0):  # a quiet but healthy book: heartbeats only
        assert sync.push(push(SPOT_TOPIC, "update", 10), now) == []
        assert sync.tick(now + 4.9) == []
    assert sync.valid and sync.version == 10 and sync.deadline == 21.0


def test_spot_heartbeat_after_a_lost_update_is_a_gap() -> None:
    sync = synced(SPOT_TOPIC)
    out = sync.push(push(SPOT_TOPIC, "update", 11), 1.0)  # update 11 never arrived; its heartbeat did
    detail = "a spot heartbeat carries version 11: that update was lost"
    assert out == [Invalidated(Reason.GAP, detail, 10), SendRequest(SPOT_TOPIC)]


def test_futures_empty_push_advances_the_version() -> None:
    sync = synced(FUTURES_TOPIC)
    before = levels(sync)
    assert sync.push(push(FUTURES_TOPIC, "update", 11), 1.0) == []
    assert sync.push(push(FUTURES_TOPIC, "update", 12), 2.0) == []
    assert sync.valid and sync.version == 12 and levels(sync) == before
    # an empty push that does NOT advance is a duplicate on futures, dropped the same way
    assert sync.push(push(FUTURES_TOPIC, "update", 12), 3.0) == [] and sync.version == 12


@BOTH
def test_gap_invalidates_requests_buffers_and_replays(topic: str) -> None:
    sync = synced(topic)
    before = levels(sync)
    out = sync.push(push(topic, "update", 12, [("105", "1")]), 1.0)
    assert out == [Invalidated(Reason.GAP, "expected version 11, got 12", 10), SendRequest(topic)]
    assert sync.state is BookState.SYNCING and sync.reason is Reason.GAP
    snap = sync.snapshot()
    assert not snap.valid and snap.version == 10 and (snap.bids, snap.asks) == before  # never across the gap
    assert sync.push(push(topic, "update", 13, [("106", "1")]), 1.1) == []  # buffered
    assert sync.push(push(topic, "update", 12, [("105", "1")]), 1.2) == []  # buffered (replay skips)
    # BitMart sends no ack for `request`: the snapshot push (version 11) is the answer
    out = sync.push(push(topic, "snapshot", 11, [("104", "1")], [("99", "1")]), 1.3)
    assert out == [Restored(13)]
    assert sync.snapshot().asks == ((D(104), D(1)), (D(105), D(1)), (D(106), D(1)))


@BOTH
def test_snapshot_that_does_not_reach_the_buffer_asks_again(topic: str) -> None:
    sync = synced(topic)
    sync.push(push(topic, "update", 14), 1.0)  # gap
    assert sync.push(push(topic, "snapshot", 12, ASKS, BIDS), 1.1) == [SendRequest(topic)]  # 13 is missing
    assert not sync.valid
    assert sync.push(push(topic, "snapshot", 14, ASKS, BIDS), 1.2) == [Restored(14)]


@BOTH
def test_crossed_update_invalidates_and_empties(topic: str) -> None:
    sync = synced(topic)
    out = sync.push(push(topic, "update", 11, [], [("101.5", "1")]), 1.0)
    assert out == [
        Invalidated(Reason.CROSSED, "best bid reaches best ask at version 11", 11),
        SendRequest(topic),
    ]
    snap = sync.snapshot()
    assert not snap.valid and snap.version is None and snap.bids == snap.asks == ()


@BOTH
def test_crossed_snapshot_is_never_valid(topic: str) -> None:
    sync = BookSync(topic)
    sync.connected(0.0)
    assert sync.push(push(topic, "snapshot", 5, [("100", "1")], [("100", "1")]), 0.0) == [SendRequest(topic)]
    assert not sync.valid and sync.snapshot().bids == ()


@BOTH
def test_snapshot_older_than_the_book(topic: str) -> None:
    sync = synced(topic)
    out = sync.push(push(topic, "snapshot", 9, ASKS), 1.0)
    detail = "snapshot version 9 is older than the book's 10"
    assert out == [Invalidated(Reason.STALE_SNAPSHOT, detail, 10), SendRequest(topic)]
    assert sync.push(push(topic, "snapshot", 10, [("200", "1")], BIDS), 1.1) == [Restored(10)]


@BOTH
def test_newer_snapshot_replaces_a_valid_book_silently(topic: str) -> None:
    sync = synced(topic)
    assert sync.push(push(topic, "snapshot", 30, [("150", "1")], [("149", "1")]), 1.0) == []
    assert sync.valid and sync.version == 30 and sync.snapshot().asks == ((D(150), D(1)),)


@BOTH
def test_stall_invalidates_then_resubscribes_if_no_snapshot_comes(topic: str) -> None:
    sync = synced(topic, stall_timeout=10.0, snapshot_timeout=2.0)
    sync.push(push(topic, "update", 11, [("103", "1")]), 3.0)
    assert sync.deadline == 13.0 and sync.tick(12.9) == []
    out = sync.tick(13.0)
    assert out == [Invalidated(Reason.STALLED, "no push for 10.0 s", 11), SendRequest(topic)]
    assert sync.deadline == 15.0 and sync.tick(14.9) == []
    assert sync.tick(15.0) == [Resubscribe(topic)]  # the request got no snapshot
    assert sync.tick(16.0) == [] and sync.tick(17.0) == [Resubscribe(topic)]  # at that pace
    sync.connected(17.5)  # the resubscribe was acknowledged
    assert sync.push(push(topic, "update", 40), 17.6) == []  # not buffered: a new subscription
    assert sync.push(push(topic, "snapshot", 41, ASKS, BIDS), 17.7) == [Restored(41)]


@BOTH
def test_disconnect_invalidates_and_reconnect_resyncs(topic: str) -> None:
    sync = synced(topic)
    sync.push(push(topic, "update", 11, [("103", "1")]), 1.0)
    assert sync.disconnected(2.0) == [Invalidated(Reason.DISCONNECTED, "the connection was lost", 11)]
    assert sync.state is BookState.DISCONNECTED and sync.deadline is None and sync.tick(1e9) == []
    assert sync.push(push(topic, "update", 12), 3.0) == []  # nothing from a dead connection counts
    assert sync.disconnected(3.0) == []  # once
    sync.connected(4.0)
    assert sync.state in (BookState.SYNCING,) and sync.deadline == 9.0
    # the new subscription's snapshot may be older than what the old one showed: it is the truth now
    assert sync.push(push(topic, "snapshot", 5, ASKS, BIDS), 4.1) == [Restored(5)]


def test_buffer_is_bounded() -> None:
    sync = synced(SPOT_TOPIC, max_buffer=3)
    sync.push(push(SPOT_TOPIC, "update", 12, ASKS), 1.0)  # gap
    for v in range(13, 20):
        sync.push(push(SPOT_TOPIC, "update", v, ASKS), 1.0)
    # only 17, 18, 19 are kept: a snapshot at 11 cannot reach them, one at 16 can
    assert sync.push(push(SPOT_TOPIC, "snapshot", 11, ASKS, BIDS), 2.0) == [SendRequest(SPOT_TOPIC)]
    for v in range(17, 20):
        sync.push(push(SPOT_TOPIC, "update", v, ASKS), 2.1)
    assert sync.push(push(SPOT_TOPIC, "snapshot", 16, ASKS, BIDS), 2.2) == [Restored(19)]


def test_depth_window_is_kept() -> None:
    sync = BookSync(SPOT_TOPIC, depth=1)
    sync.connected(0.0)
    sync.push(push(SPOT_TOPIC, "snapshot", 1, ASKS, BIDS), 0.0)
    assert sync.snapshot().asks == ((D(101), D(1)),) and sync.snapshot().bids == ((D(99), D(3)),)
