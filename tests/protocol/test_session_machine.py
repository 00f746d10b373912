"""A hypothesis state machine interleaving user calls, server replies, drops and clock ticks.

After every step: a private topic is never sent before the login reply; at most one login is in
flight; no topic is sent twice on one socket without an unsubscribe or reconnect between; every
awaited request is settled at most once; once the server has answered everything, the subscribed set
equals the desired set; deadlines never lie in the past.
"""

from __future__ import annotations

from collections import deque

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from bitmart_ws.protocol.backoff import Backoff
from bitmart_ws.protocol.connection import ConnState
from bitmart_ws.protocol.keys import Market, WsKey
from bitmart_ws.protocol.requests import Operation

from .session_harness import Harness, login_ok, sub_error, sub_ok

TOPICS = {
    WsKey.SPOT_PRIVATE_V1: [f"spot/user/order:{s}_USDT" for s in ("BTC", "ETH", "SOL", "XRP")]
    + ["spot/user/balance:BALANCE_UPDATE", "spot/ticker:BTC_USDT"],
    WsKey.FUTURES_PRIVATE_V2: [
        "futures/position",
        "futures/order",
        "futures/asset:USDT",
        "futures/asset:BTC",
    ],
}


class SessionMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.h: Harness | None = None
        self.pending: deque[tuple[str, str]] = deque()  # what the server owes, in order
        self.logged_in = False
        self.on_socket: set[str] = set()  # subscribed on this socket without an unsubscribe since
        self.seen = 0  # frames of the current socket already checked
        self.outstanding: set[tuple[Operation, str]] = set()  # awaited by a caller, not settled yet
        self.checked = 0  # settlements already checked

    @rule(key=st.sampled_from(sorted(TOPICS, key=lambda k: k.value)), ack=st.floats(0.5, 5.0))
    @precondition(lambda self: self.h is None)
    def start(self, key: WsKey, ack: float) -> None:
        self.h = Harness.make(
            key,
            ack_timeout=ack,
            ping_interval=3.0,
            pong_timeout=1.0,
            rate_limit=(5, 2.0),
            backoff=Backoff(0.1, 2.0),
        )
        self.h.session.start(0.0)
        self.h.drain()

    @property
    def market(self) -> Market:
        assert self.h is not None
        return self.h.market

    def _sync(self) -> None:
        """Read the frames sent since the last step, as the server receives them."""
        h = self.h
        assert h is not None
        if not h.socket:
            self._socket_gone()
            return
        verb = "op" if self.market is Market.SPOT else "action"
        for frame in h.sent[self.seen :]:
            if frame == "ping" or frame.get(verb) == "ping":
                self.pending.append(("ping", ""))
                continue
            op = frame[verb]
            if op in ("login", "access"):
                assert not any(kind == "login" for kind, _ in self.pending), "two logins in flight"
                assert not self.logged_in
                self.pending.append(("login", ""))
                continue
            for topic in frame["args"]:
                if op == "subscribe":
                    assert self.logged_in, f"{topic} sent before the login reply"
                    assert topic not in self.on_socket, f"{topic} sent twice on one socket"
                    self.on_socket.add(topic)
                else:
                    self.on_socket.discard(topic)
                self.pending.append((op, topic))
        self.seen = len(h.sent)

    def _socket_gone(self) -> None:
        self.pending.clear()
        self.logged_in = False
        self.on_socket.clear()
        self.seen = 0

    def _after(self) -> None:
        h = self.h
        assert h is not None
        self._sync()
        for op, topic, _ in h.settled[self.checked :]:
            assert (op, topic) in self.outstanding, f"{op} {topic} settled twice or never awaited"
            self.outstanding.discard((op, topic))
        self.checked = len(h.settled)

    # --- the user ---------------------------------------------------------------------------------
    @rule(data=st.data())
    @precondition(lambda self: self.h is not None and not self.h.session.finished)
    def subscribe(self, data: st.DataObject) -> None:
        h = self.h
        assert h is not None
        if h.session.state is ConnState.STOPPED:
            return
        topics = data.draw(st.lists(st.sampled_from(TOPICS[h.session.key]), min_size=1, max_size=4))
        for topic, outcome in h.subscribe(*topics):
            if outcome is None:
                self.outstanding.add((Operation.SUBSCRIBE, topic))
        self._after()

    @rule(data=st.data())
    @precondition(lambda self: self.h is not None and not self.h.session.finished)
    def unsubscribe(self, data: st.DataObject) -> None:
        h = self.h
        assert h is not None
        topics = data.draw(st.lists(st.sampled_from(TOPICS[h.session.key]), min_size=1, max_size=3))
        for topic, outcome in h.unsubscribe(*topics):
            if outcome is None:
                self.outstanding.add((Operation.UNSUBSCRIBE, topic))
        self._after()

    # --- the transport ----------------------------------------------------------------------------
    @rule(ok=st.booleans())
    @precondition(lambda self: self.h is not None and self.h.open_requested)
    def open_socket(self, ok: bool) -> None:
        assert self.h is not None
        self._socket_gone()
        if ok:
            self.h.connect()
        else:
            self.h.refuse()
        self._after()

    @rule()
    @precondition(lambda self: self.h is not None and self.h.socket)
    def drop(self) -> None:
        assert self.h is not None
        self.h.lose(1006, "")
        self._after()

    @rule(dt=st.floats(0.0, 3.0))
    @precondition(lambda self: self.h is not None)
    def tick(self, dt: float) -> None:
        h = self.h
        assert h is not None
        h.tick(h.now + dt)
        self._after()
        deadline = h.session.next_deadline()
        assert deadline is None or deadline > h.now, "a deadline was left in the past by tick"

    # --- the server -------------------------------------------------------------------------------
    @rule(
        answer=st.sampled_from(["ok", "ok", "ok", "reject", "reject-topicless", "duplicate", "refuse-login"])
    )
    @precondition(lambda self: self.h is not None and self.h.socket and bool(self.pending))
    def server_answers(self, answer: str) -> None:
        h = self.h
        assert h is not None
        kind, topic = self.pending.popleft()
        market = self.market
        rejected = False
        if kind == "ping":
            if market is Market.SPOT:
                h.session.pong(h.now)
                h.drain()
            else:
                h.reply({"group": "System", "data": "pong+1"})
        elif kind == "login":
            if answer == "refuse-login":
                h.reply(
                    {"event": "login", "errorCode": "91011", "errorMessage": "Param sign is wrong"}
                    if market is Market.SPOT
                    else {"action": "access", "success": False, "error": "auth failed"}
                )
            else:
                self.logged_in = True
                h.reply(login_ok(market))
        elif answer == "reject":
            h.reply(sub_error(market, topic, "90004", kind))
            rejected = True
        elif answer == "reject-topicless" and market is Market.SPOT:
            h.reply(sub_error(market, None, "92001", kind))
            rejected = True
        elif answer == "duplicate" and market is Market.SPOT and kind == "subscribe":
            h.reply(sub_error(market, topic, "90008", kind))
        else:
            h.reply(sub_ok(market, topic, kind))
        if kind == "subscribe" and rejected:
            self.on_socket.discard(topic)  # the server did not subscribe it: it may be sent again
        self._after()

    @rule(data=st.data())
    @precondition(lambda self: self.h is not None and self.h.socket and self.logged_in)
    def server_sends_an_unsolicited_reply(self, data: st.DataObject) -> None:
        h = self.h
        assert h is not None
        topic = data.draw(st.sampled_from(TOPICS[h.session.key]))
        op = data.draw(st.sampled_from(["subscribe", "unsubscribe"]))
        if (op, topic) in self.pending:
            return  # it would answer a real request
        desired, subscribed = h.session.registry.desired, h.session.registry.subscribed()
        ok = data.draw(st.booleans())
        h.reply(sub_ok(self.market, topic, op) if ok else sub_error(self.market, topic, "90004", op))
        assert h.session.registry.desired == desired and h.session.registry.subscribed() == subscribed
        assert type(h.of("exception")[-1]["error"]).__name__ == "UnexpectedReply"
        self._after()

    @rule()
    @precondition(lambda self: self.h is not None and not self.h.session.finished)
    def close(self) -> None:
        assert self.h is not None
        self.h.close()
        self._after()
        assert self.h.session.next_deadline() is None
        assert not self.outstanding, "a caller still waits on a closed session"

    # --- invariants -------------------------------------------------------------------------------
    @invariant()
    def stopped_sessions_leave_nobody_waiting(self) -> None:
        if self.h is not None and self.h.session.state is ConnState.STOPPED:
            assert not self.outstanding

    @rule()
    @precondition(lambda self: self.h is not None and self.h.socket)
    def server_answers_everything(self) -> None:
        """The server acknowledges all it owes (and any frame the rate limit still held back)."""
        h = self.h
        assert h is not None
        for _ in range(50):
            while self.pending and h.socket:
                self.server_answers("ok")
            deadline = h.session.next_deadline()
            if not h.session._outbox or deadline is None or not h.socket:
                break
            h.tick(max(h.now, deadline))
            self._after()
        if not h.socket or self.pending:
            return
        # Everything answered: the connection is live with exactly the desired topics.
        registry = h.session.registry
        assert h.session.state is ConnState.LIVE
        assert set(registry.subscribed()) == set(registry.desired)
        assert self.on_socket == set(registry.desired)

    @invariant()
    def deadlines_not_in_the_past(self) -> None:
        h = self.h
        if h is None:
            return
        deadline = h.session.next_deadline()
        if deadline is not None and h.session._outbox:
            return  # a send slot may be due right now (sent at the next tick)
        assert deadline is None or deadline >= h.now

    @invariant()
    def finished_sessions_do_nothing(self) -> None:
        h = self.h
        if h is not None and h.session.finished:
            assert h.session.next_deadline() is None and not h.socket


SessionMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=60, deadline=None)
test_session_machine = SessionMachine.TestCase
