"""The sans-I/O connection session: every reply shape of both dialects, deadlines, failure policy.

No sockets and no event loop: a :class:`Harness` plays the transport and the server.
"""

from __future__ import annotations

from typing import Any

import pytest

from bitmart_ws.exceptions import (
    AckTimeout,
    AuthenticationError,
    ConnectError,
    InvalidState,
    LoginTimeout,
    PongTimeout,
    ProtocolError,
    ServerError,
    StaleTopic,
    SubscriptionError,
    UnexpectedReply,
)
from bitmart_ws.protocol.backoff import Backoff
from bitmart_ws.protocol.connection import ConnState
from bitmart_ws.protocol.keys import Market, WsKey
from bitmart_ws.protocol.ratelimit import RateLimiter
from bitmart_ws.protocol.requests import Operation
from bitmart_ws.protocol.session import Close, Session, SessionConfig

from .session_harness import Harness, login_ok, sub_error, sub_ok

SPOT = "spot/ticker:BTC_USDT"
SPOT2 = "spot/ticker:ETH_USDT"
FUT = "futures/depthIncrease50:BTCUSDT"
FUT2 = "futures/trade:BTCUSDT"
SUB, UNSUB = Operation.SUBSCRIBE, Operation.UNSUBSCRIBE


def live(key: WsKey = WsKey.SPOT_PUBLIC_V1, **options: Any) -> Harness:
    h = Harness.make(key, **options)
    h.open_live()
    assert h.session.state is ConnState.LIVE
    return h


# --- reply shapes of the reference, one case a line ------------------------------------------------
# (market, topic subscribed, the server's reply, subscribed afterwards?, settled ok?, code)
REPLIES: list[tuple[Market, str, dict[str, Any], bool, bool, str | None]] = [
    (Market.SPOT, SPOT, {"event": "subscribe", "topic": SPOT}, True, True, None),
    (Market.SPOT, SPOT, {"topic": SPOT, "event": "subscribe"}, True, True, None),  # key order varies
    (
        Market.SPOT,
        SPOT,
        {"event": "subscribe", "topic": SPOT, "errorCode": "90008", "errorMessage": "Duplicate subscription"},
        True,
        True,
        None,
    ),
    (
        Market.SPOT,
        SPOT,
        {"event": "subscribe", "errorCode": "90004", "errorMessage": "Invalid channel param"},
        False,
        False,
        "90004",
    ),
    (
        Market.SPOT,
        SPOT,
        {"event": "subscribe", "errorCode": "92001", "errorMessage": "Invalid symbol param"},
        False,
        False,
        "92001",
    ),
    (
        Market.SPOT,
        SPOT,
        {"errorCode": "92001", "errorMessage": "Invalid symbol param"},
        False,
        False,
        "92001",
    ),  # no event
    (
        Market.SPOT,
        SPOT,
        {"event": "subscribe", "topic": SPOT, "errorCode": 90004},
        False,
        False,
        "90004",
    ),  # numeric code
    (
        Market.FUTURES,
        FUT,
        {
            "action": "subscribe",
            "group": FUT,
            "success": True,
            "request": {"action": "subscribe", "args": [FUT]},
        },
        True,
        True,
        None,
    ),
    (
        Market.FUTURES,
        FUT,
        {"action": "subscribe", "group": FUT + "@100ms", "success": True},
        True,
        True,
        None,
    ),  # speed suffix
    (
        Market.FUTURES,
        FUT,
        {"action": "subscribe", "success": True, "request": {"action": "subscribe", "args": [FUT]}},
        True,
        True,
        None,
    ),
    (
        Market.FUTURES,
        FUT,
        {
            "action": "subscribe",
            "group": FUT + "@100ms",
            "success": False,
            "error": f"Invalid channel: not found {FUT}@100ms",
            "request": {"action": "subscribe", "args": [FUT + "@100ms"]},
        },
        False,
        False,
        None,
    ),
    (
        Market.FUTURES,
        FUT,
        {
            "action": "subscribe",
            "group": FUT,
            "success": False,
            "request": {},
            "error": f"group [{FUT}] not exist",
        },
        False,
        False,
        None,
    ),
    (
        Market.FUTURES,
        FUT,
        {"action": "subscribe", "success": False, "error": "Invalid channel"},
        False,
        False,
        None,
    ),  # names no topic
]


@pytest.mark.parametrize(("market", "topic", "reply", "subscribed", "ok", "code"), REPLIES)
def test_every_subscribe_reply_shape(
    market: Market, topic: str, reply: dict[str, Any], subscribed: bool, ok: bool, code: str | None
) -> None:
    h = live(WsKey.SPOT_PUBLIC_V1 if market is Market.SPOT else WsKey.FUTURES_PUBLIC_V2)
    assert h.subscribe(topic) == [(topic, None)]
    assert h.topics_sent("subscribe") == [topic]
    h.reply(reply)
    ((op, settled_topic, outcome),) = h.settled
    assert (op, settled_topic, outcome.ok, outcome.code) == (SUB, topic, ok, code)
    assert (topic in h.session.registry.subscribed()) is subscribed
    assert (topic in h.session.registry) is subscribed  # a rejected topic is no longer desired
    if ok:
        assert h.of("response") and not h.of("exception")
    else:
        assert isinstance(outcome.error, SubscriptionError) and outcome.error.rejected[topic][0] == code
        (event,) = h.of("exception")
        assert event["topic"] == topic and event["error"] is outcome.error
        assert h.released == [topic]
    assert h.session.next_deadline() == h.now + 15.0  # only the ping remains scheduled


# (market, reply) of every message that is neither a push nor a reply to a request
OTHERS: list[tuple[Market, Any, type[Exception]]] = [
    (
        Market.SPOT,
        {"event": "error", "errorCode": "90001", "errorMessage": "Invalid message format"},
        ServerError,
    ),
    (
        Market.SPOT,
        {"event": "login", "errorCode": "91005", "errorMessage": "Already logged in"},
        UnexpectedReply,
    ),
    (Market.SPOT, {"foo": "bar"}, ProtocolError),
    (Market.SPOT, [1, 2], ProtocolError),
    (Market.SPOT, "text", ProtocolError),
    (Market.FUTURES, {"success": False, "error": "Invalid message: message must be JSON: ping"}, ServerError),
    (
        Market.FUTURES,
        {"action": "", "group": FUT2, "success": False, "error": "Invalid action []"},
        ServerError,
    ),
    (Market.FUTURES, {"group": "System", "data": "not a pong"}, ProtocolError),
    (Market.FUTURES, {"action": "access", "success": True}, UnexpectedReply),
    (Market.FUTURES, None, ProtocolError),
]


@pytest.mark.parametrize(("market", "msg", "error"), OTHERS)
def test_other_messages_are_reported_and_change_nothing(
    market: Market, msg: Any, error: type[Exception]
) -> None:
    topic = SPOT if market is Market.SPOT else FUT
    h = live(WsKey.SPOT_PUBLIC_V1 if market is Market.SPOT else WsKey.FUTURES_PUBLIC_V2)
    h.subscribe(topic)
    h.reply(sub_ok(market, topic))
    h.events.clear()
    h.reply(msg)
    (event,) = h.of("exception")
    assert type(event["error"]) is error and event["wsKey"] == h.session.key.value
    assert h.names() == ["exception"]  # never an `update`
    assert h.session.registry.subscribed() == (topic,) and h.session.state is ConnState.LIVE


def test_pongs_of_both_dialects_clear_the_pong_deadline() -> None:
    for key, pong in (
        (WsKey.SPOT_PUBLIC_V1, None),
        (WsKey.FUTURES_PUBLIC_V2, {"group": "System", "data": "pong+e0d8"}),
    ):
        h = live(key, ping_interval=1.0, pong_timeout=0.5)
        h.tick(1.0)
        assert h.sent[-1] == ("ping" if key.market is Market.SPOT else {"action": "ping"})
        assert h.session.next_deadline() == 1.5
        if pong is None:
            h.session.pong(h.now)
        else:
            h.reply(pong)
        assert h.session.next_deadline() == 2.0  # the next ping; no pong deadline
        assert not h.of("exception")


# --- the edges ------------------------------------------------------------------------------------
def test_a_rejection_naming_no_topic_belongs_to_the_oldest_pending_topic() -> None:
    h = live()
    h.subscribe(SPOT, SPOT2, "spot/depth5:BTC_USDT")
    assert h.topics_sent("subscribe") == [SPOT, SPOT2, "spot/depth5:BTC_USDT"]
    h.reply(sub_ok(Market.SPOT, SPOT))
    h.reply(sub_error(Market.SPOT, None, "92001"))  # BitMart's exact frame: no topic
    h.reply(sub_ok(Market.SPOT, "spot/depth5:BTC_USDT"))
    assert [(t, r.ok, r.code) for _, t, r in h.settled] == [
        (SPOT, True, None),
        (SPOT2, False, "92001"),
        ("spot/depth5:BTC_USDT", True, None),
    ]
    assert h.session.registry.desired == (SPOT, "spot/depth5:BTC_USDT")


def test_replies_that_match_no_request_change_nothing() -> None:
    h = live()
    h.subscribe(SPOT)
    h.reply(sub_ok(Market.SPOT, SPOT))
    h.events.clear()
    # an already acknowledged topic rejected, an unsolicited unsubscribe ack, a topicless rejection
    h.reply(sub_error(Market.SPOT, SPOT, "90004"))
    h.reply(sub_ok(Market.SPOT, SPOT, "unsubscribe"))
    h.reply(sub_error(Market.SPOT, None, "90004"))
    assert [type(e["error"]) for e in h.of("exception")] == [UnexpectedReply] * 3
    assert h.session.registry.desired == (SPOT,) and h.session.registry.subscribed() == (SPOT,)
    # the next subscribe of the same topic sends nothing: it is still subscribed
    assert h.subscribe(SPOT)[0][1] is not None and h.topics_sent("subscribe") == [SPOT]
    assert h.released == []


def test_ack_deadline_starts_when_the_frame_is_sent() -> None:
    h = Harness.make(ack_timeout=1.0)
    h.subscribe(SPOT)
    h.at(30.0).connect()  # a slow connection: nothing was sent before
    assert h.topics_sent("subscribe") == [SPOT] and h.settled == []
    assert h.session.next_deadline() == 31.0
    h.tick(30.9)
    h.reply(sub_ok(Market.SPOT, SPOT))
    assert [(t, r.ok) for _, t, r in h.settled] == [(SPOT, True)]


def test_ack_timeout_settles_the_caller_and_restores_a_known_state() -> None:
    h = live(ack_timeout=1.0)
    h.subscribe(SPOT)
    h.tick(1.0)
    ((op, topic, reply),) = h.settled
    assert isinstance(reply.error, AckTimeout) and reply.error.topics == (SPOT,)
    assert h.closes and h.session.state is ConnState.BACKOFF
    assert "not acknowledged within 1 s" in h.of("exception")[0]["message"]
    assert h.session.registry.desired == (SPOT,)  # still wanted: resubscribed on the next socket


def test_connection_failures_end_waits_that_cannot_be_answered_with_the_cause() -> None:
    h = Harness.make(ack_timeout=1.0, backoff=Backoff(0.1, 1.0))
    h.subscribe(SPOT)
    h.refuse()  # first failure, asked 0 s ago: the caller waits for the next attempt
    assert h.settled == [] and h.session.state is ConnState.BACKOFF
    h.tick(0.1)
    h.at(1.0).refuse()
    ((_, topic, reply),) = h.settled
    assert topic == SPOT and isinstance(reply.error, ConnectError)
    assert "not sent: cannot connect: refused" in str(reply.error)
    assert isinstance(reply.error.__cause__, ConnectError)
    assert h.session.registry.desired == (SPOT,)


def test_http_4xx_waits_the_maximum_delay_and_5xx_backs_off() -> None:
    h = Harness.make(backoff=Backoff(0.1, 8.0))
    h.session.start(0.0)
    h.drain()
    h.refuse(status=403)
    assert h.of("reconnect")[-1]["delay"] == 8.0 and "maximum delay" in h.of("exception")[-1]["message"]
    h.tick(8.0)
    h.refuse(status=503)
    assert h.of("reconnect")[-1]["delay"] == pytest.approx(0.2)  # attempt 2 of the normal backoff


def test_backoff_resets_only_after_the_connection_was_stable() -> None:
    h = Harness.make(backoff=Backoff(1.0, 8.0), stable_after=8.0)
    h.open_live()
    delays = []
    for _ in range(4):  # live, then dropped at once: every retry waits longer
        h.lose()
        delays.append(h.of("reconnect")[-1]["delay"])
        h.tick(h.session.next_deadline() or 0.0)
        h.connect()
    assert delays == [1.0, 2.0, 4.0, 8.0]
    h.at(h.now + 8.0).lose()  # live for stable_after: the next retry is quick again
    assert h.of("reconnect")[-1]["delay"] == 1.0 and h.of("reconnect")[-1]["attempt"] == 1


def test_connection_attempts_are_paced_across_sessions() -> None:
    budget = RateLimiter(2, 10.0, guard=0.0)
    sessions = [
        Session(SessionConfig(key=WsKey.SPOT_PUBLIC_V1, shard=i), rand=lambda: 0.0, attempts=budget)
        for i in range(3)
    ]
    for s in sessions:
        s.start(0.0)
    opened = [any(type(e).__name__ == "Open" for e in s.effects()) for s in sessions]
    assert opened == [True, True, False]
    assert sessions[2].next_deadline() == 10.0
    sessions[2].tick(10.0)
    assert [type(e).__name__ for e in sessions[2].effects()] == ["Open"]


def test_private_topics_wait_for_the_login_reply() -> None:
    h = Harness.make(WsKey.SPOT_PRIVATE_V1)
    h.subscribe("spot/user/order:BTC_USDT")
    h.connect()
    assert [f["op"] for f in h.sent] == ["login"] and h.session.state is ConnState.AUTHENTICATING
    h.subscribe("spot/user/order:ETH_USDT")  # asked for during the login: still nothing sent
    assert [f["op"] for f in h.sent] == ["login"]
    h.reply(login_ok(Market.SPOT))
    assert h.topics_sent("subscribe") == ["spot/user/order:BTC_USDT", "spot/user/order:ETH_USDT"]
    assert h.names()[:2] == ["open", "authenticated"]


@pytest.mark.parametrize("code", ["91001", "91002", "91003", "91004"])
def test_fatal_login_codes_stop_the_key(code: str) -> None:
    h = Harness.make(WsKey.SPOT_PRIVATE_V1)
    h.subscribe("spot/user/order:BTC_USDT")
    h.connect()
    h.reply({"event": "login", "errorCode": code, "errorMessage": "API KEY has frozen"})
    assert h.session.state is ConnState.STOPPED and h.session.next_deadline() is None
    ((_, _, reply),) = h.settled
    assert isinstance(reply.error, AuthenticationError) and reply.error.code == code
    assert h.of("exception")[-1]["stopped"] is True
    with pytest.raises(AuthenticationError):
        h.subscribe("spot/user/order:ETH_USDT")


def test_refused_login_retries_after_the_maximum_delay() -> None:
    h = Harness.make(WsKey.FUTURES_PRIVATE_V2, backoff=Backoff(0.1, 5.0))
    h.subscribe("futures/position")
    h.connect()
    h.reply({"action": "access", "success": False, "error": "access failed: openapi auth failed"})
    assert h.session.state is ConnState.BACKOFF and h.of("reconnect")[-1]["delay"] == 5.0
    ((_, _, reply),) = h.settled
    assert isinstance(reply.error, AuthenticationError)
    assert h.session.registry.desired == ("futures/position",)


def test_login_and_pong_deadlines() -> None:
    h = Harness.make(WsKey.SPOT_PRIVATE_V1, ack_timeout=2.0, ping_interval=1.0, pong_timeout=0.5)
    h.session.start(0.0)
    h.drain()
    h.connect()
    h.tick(1.0)  # the ping goes out during the login
    h.tick(1.5)
    assert isinstance(h.of("exception")[-1]["error"], PongTimeout) and h.closes[-1].abort
    h.tick(h.session.next_deadline() or 0.0)
    h.connect()
    h.tick(h.now + 2.0)
    assert isinstance(h.of("exception")[-1]["error"], LoginTimeout)
    assert h.session.state is ConnState.BACKOFF


def test_pacing_holds_frames_and_the_deadline_says_when() -> None:
    h = live(rate_limit=(2, 10.0), ack_timeout=60.0)
    topics = [f"spot/ticker:C{i}_USDT" for i in range(30)]
    h.subscribe(*topics)
    assert len(h.frames("subscribe")) == 2  # 20 + 10 topics: two frames fit the budget
    h.unsubscribe(topics[0])  # pending subscribe: nothing to send
    h.subscribe(SPOT)
    assert len(h.frames("subscribe")) == 2
    deadline = h.session.next_deadline()
    assert deadline is not None and deadline > 10.0
    h.tick(deadline)
    assert h.topics_sent("subscribe")[-1] == SPOT


def test_unsubscribe_while_subscribe_in_flight_takes_it_back_off() -> None:
    h = live()
    h.subscribe(SPOT)
    assert h.unsubscribe(SPOT)[0][1] is not None  # nothing to wait for: never acknowledged
    ((_, _, reply),) = h.settled
    assert isinstance(reply.error, InvalidState)
    h.reply(sub_ok(Market.SPOT, SPOT))
    assert h.topics_sent("unsubscribe") == [SPOT]


def test_reconnect_resubscribes_and_reports_downtime() -> None:
    h = live()
    h.subscribe(SPOT, SPOT2)
    for t in (SPOT, SPOT2):
        h.reply(sub_ok(Market.SPOT, t))
    h.at(5.0).lose(1001, "going away")
    assert h.of("reconnect")[-1]["code"] == 1001 and h.of("reconnect")[-1]["reason"] == "going away"
    h.tick(h.session.next_deadline() or 0.0)
    h.connect()
    assert h.topics_sent("subscribe") == [SPOT, SPOT2] and h.session.state is ConnState.SUBSCRIBING
    h.reply(sub_ok(Market.SPOT, SPOT))
    h.reply(sub_ok(Market.SPOT, SPOT2))
    (event,) = h.of("reconnected")
    assert event["topics"] == [SPOT, SPOT2] and event["downtime"] > 0


def test_reconnect_reason_is_always_a_string() -> None:
    h = live()
    h.lose(1006, None)  # type: ignore[arg-type]
    assert h.of("reconnect")[-1]["reason"] == ""


def test_stale_topics_are_reported_and_resubscribed() -> None:
    h = live(stale_timeout=4.0, ping_interval=100.0)
    h.subscribe(SPOT)
    h.reply(sub_ok(Market.SPOT, SPOT))
    for t in (1.0, 2.0, 3.0, 4.0):
        h.tick(t)
    assert isinstance(h.of("exception")[-1]["error"], StaleTopic)
    assert [f["op"] for f in h.sent[-2:]] == ["unsubscribe", "subscribe"]


def test_close_settles_everything_and_emits_close() -> None:
    h = live()
    h.subscribe(SPOT)
    h.close()
    ((_, _, reply),) = h.settled
    assert isinstance(reply.error, InvalidState)
    assert h.closes == [Close(1000, "closed by client")] and h.names()[-1] == "close"
    assert h.session.next_deadline() is None and h.session.state is ConnState.CLOSED
    with pytest.raises(InvalidState):
        h.subscribe(SPOT)


def test_an_idle_session_closes_without_a_close_event() -> None:
    h = Harness.make()
    h.close()
    assert h.names() == [] and h.session.state is ConnState.CLOSED


def test_unexpected_errors_restart_through_the_reconnect_path() -> None:
    h = live()
    h.session.failed(h.now, RuntimeError("boom"))
    h.drain()
    assert "unexpected RuntimeError: boom" in h.of("exception")[-1]["message"]
    assert h.closes[-1].abort and h.session.state is ConnState.BACKOFF


def test_login_signature_uses_the_wall_clock_plus_offset_and_the_custom_signer() -> None:
    seen: list[tuple[str, str]] = []

    def signer(message: str, secret: str) -> str:
        seen.append((message, secret))
        return "f" * 64

    h = Harness.make(WsKey.FUTURES_PRIVATE_V2, time_offset=1.5, signer=signer)
    h.session.start(0.0)
    h.drain()
    h.connect()
    (frame,) = h.frames("access")
    assert frame["args"][1] == "1700000001500" and frame["args"][2] == "f" * 64
    assert seen == [("1700000001500#memo#bitmart.WebSocket", "secret")]


def test_renew_resubscribes_only_acknowledged_topics() -> None:
    h = live()
    h.subscribe(SPOT, SPOT2)
    h.reply(sub_ok(Market.SPOT, SPOT))
    assert h.session.renew(h.now, [SPOT, SPOT2, "spot/trade:BTC_USDT"]) == [SPOT]
    h.drain()
    assert [(f["op"], f["args"]) for f in h.sent[-2:]] == [("unsubscribe", [SPOT]), ("subscribe", [SPOT])]
    h.reply(sub_ok(Market.SPOT, SPOT, "unsubscribe"))
    h.reply(sub_ok(Market.SPOT, SPOT))
    assert h.session.registry.subscribed() == (SPOT,)


def test_back_pressure_suspends_the_pong_deadline() -> None:
    h = live(ping_interval=1.0, pong_timeout=0.5)
    h.tick(1.0)  # ping sent, pong due at 1.5
    h.session.set_paused(1.2, True)
    h.tick(1.9)  # paused: a pong could not be read, no timeout
    h.tick(2.0)  # pings go on while paused
    assert not h.closes and h.session.state is ConnState.LIVE and h.sent == ["ping", "ping"]
    h.session.set_paused(2.6, False)  # the unanswered ping gets its full time again
    assert h.session.next_deadline() == pytest.approx(3.0)
    h.tick(3.0)  # the next ping is due too; the pong deadline (3.1) is not yet
    assert not h.closes
    h.tick(3.1)
    assert isinstance(h.of("exception")[-1]["error"], PongTimeout)
