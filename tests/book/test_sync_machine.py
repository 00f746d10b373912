"""BookSync as a state machine against a model server holding the naive book at every version.

The server applies random changes; the network loses pushes (gaps), repeats them (duplicates),
re-sends old ones (stale), corrupts one into a crossed book, sends spot heartbeats, drops the
connection, and answers requests late. Whenever the book says it is valid, it equals the naive book
at its version; after every fault a snapshot brings it back.
"""

from __future__ import annotations

from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from bitmart_ws.book import BookState, BookSync, Invalidated, Restored, Resubscribe, SendRequest

from .helpers import FUTURES_TOPIC, SPOT_TOPIC, NaiveBook, push

ask_level = st.tuples(st.integers(101, 130), st.sampled_from(["0", "0.000", "1", "2.5", "9"]))
bid_level = st.tuples(st.integers(70, 99), st.sampled_from(["0", "0.000", "1", "2.5", "9"]))
changes = st.tuples(st.lists(ask_level, max_size=4), st.lists(bid_level, max_size=4))


class SyncMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.topic = SPOT_TOPIC
        self.sync = BookSync(self.topic, stall_timeout=10.0, snapshot_timeout=3.0)
        self.now = 0.0
        self.version = 1000
        self.books = {self.version: NaiveBook()}
        self.sent: list[Any] = []  # every update the server produced, in version order
        self.connected = False
        self.snapshot_due = False  # a subscribe or request is waiting for its snapshot
        self.was_valid = False

    @rule(futures=st.booleans())
    def choose_market(self, futures: bool) -> None:
        if not self.sent and not self.connected:
            self.topic = FUTURES_TOPIC if futures else SPOT_TOPIC
            self.sync = BookSync(self.topic, stall_timeout=10.0, snapshot_timeout=3.0)

    def handle(self, outputs: list[Any]) -> None:
        for out in outputs:
            if isinstance(out, SendRequest | Resubscribe):
                assert out.topic == self.topic
                if isinstance(out, Resubscribe) and self.connected:
                    self.handle(self.sync.connected(self.now))
                self.snapshot_due = self.connected
            elif isinstance(out, Invalidated):
                assert self.was_valid, "invalidated while not valid"
                self.was_valid = False
            else:
                assert isinstance(out, Restored) and not self.was_valid
                assert out.version == self.sync.version
                self.was_valid = True
        assert self.was_valid == self.sync.valid

    def deliver(self, item: Any) -> None:
        if self.connected:
            self.handle(self.sync.push(item, self.now))

    @rule(change=changes, lose=st.booleans())
    def server_update(self, change: tuple[list[Any], list[Any]], lose: bool) -> None:
        book = self.books[self.version].copy()
        book.apply(*change)
        self.version += 1
        self.books[self.version] = book
        item = push(self.topic, "update", self.version, *change)
        self.sent.append(item)
        if not lose:
            self.deliver(item)

    @precondition(lambda self: self.sent)
    @rule(back=st.integers(0, 5))
    def repeat_old_update(self, back: int) -> None:
        self.deliver(self.sent[max(0, len(self.sent) - 1 - back)])  # a duplicate or a stale version

    @rule()
    def spot_heartbeat(self) -> None:
        if self.topic == SPOT_TOPIC:
            self.deliver(push(self.topic, "update", self.version))

    @rule()
    def crossed_corruption(self) -> None:
        """The next version arrives corrupted into a crossed book; the server's true change is lost."""
        self.version += 1
        self.books[self.version] = self.books[self.version - 1].copy()
        self.sent.append(push(self.topic, "update", self.version))
        self.deliver(push(self.topic, "update", self.version, [("50", "1")], [("150", "1")]))

    @precondition(lambda self: self.snapshot_due)
    @rule()
    def snapshot_arrives(self) -> None:
        self.snapshot_due = False
        naive = self.books[self.version]
        asks = [(str(p), str(s)) for p, s in naive.asks.items()]
        bids = [(str(p), str(s)) for p, s in naive.bids.items()]
        self.deliver(push(self.topic, "snapshot", self.version, asks, bids))

    @rule()
    def connection_drops(self) -> None:
        self.connected = self.snapshot_due = False
        self.handle(self.sync.disconnected(self.now))

    @precondition(lambda self: not self.connected)
    @rule()
    def connection_back(self) -> None:
        self.connected = self.snapshot_due = True  # the subscribe sends a snapshot
        self.handle(self.sync.connected(self.now))

    @rule(seconds=st.sampled_from([0.5, 2.0, 4.0, 11.0]))
    def time_passes(self, seconds: float) -> None:
        self.now += seconds
        deadline = self.sync.deadline
        outputs = self.sync.tick(self.now)
        if deadline is None or self.now < deadline:
            assert outputs == []
        self.handle(outputs)

    @invariant()
    def valid_means_equal_to_the_server_at_that_version(self) -> None:
        snap = self.sync.snapshot()
        assert snap.valid == self.sync.valid == (self.sync.state is BookState.VALID)
        if snap.valid:
            assert snap.version is not None
            assert (snap.bids, snap.asks) == self.books[snap.version].view()
            assert self.connected

    def teardown(self) -> None:
        """Liveness: once connected, the next push (which reveals any loss) and the snapshot it asks
        for bring the book to the server's version, whatever happened before."""
        if not self.connected:
            self.connection_back()
        self.server_update(([], []), lose=False)
        if self.snapshot_due:
            self.snapshot_arrives()
        assert self.sync.valid and self.sync.version == self.version


SyncMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
TestSyncMachine = SyncMachine.TestCase
