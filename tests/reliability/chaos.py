"""Seeded chaos: a real client against the simulator through randomly chosen faults, with user churn.

Every fault of the simulator's API is one entry of :data:`FAULTS`. A run picks faults with a
``random.Random(seed)`` (a first pass visits every kind once, in a seeded order), injects each one
while the user subscribes and unsubscribes at the same time, heals it, and then checks:

* the client's desired topics equal the user's model of them (subscribe adds, unsubscribe removes);
* the simulator holds exactly those topics, each on exactly one live session, every private session
  authenticated, one session per connection of the client (shards of ``max_topics=3``);
* no session ever received a subscribe frame for a topic it already had (from ``sim.received``);
* every push the simulator numbered (``SimulatorConfig(sequence_pushes=True)``: ``n`` per topic per
  session) reached the client exactly once and in order: gaps are ``lost``, repeats or older numbers
  ``duplicated``/``reordered``; every push of a session still live is received;
* connection attempts, as the simulator saw them, stay within the client's ``connect_rate`` budget in
  every window; no crashed task, no "unexpected error", no unretrieved future.

``python -m tests.reliability.chaos`` (``make chaos``) runs ``CHAOS_FAULTS`` faults (default 500) with
``CHAOS_SEED`` (default: random) and prints a summary table; a failure prints the seed that replays it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import statistics
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec

from bitmart_ws import (
    BitmartWSError,
    DecodeError,
    MessageTooBig,
    PongTimeout,
    Timeout,
    WebsocketClient,
    WsKey,
)
from bitmart_ws.simulator import DEFAULT_ACCOUNT, Malformed, Simulator, SimulatorConfig
from bitmart_ws.simulator.session import SessionInfo

__all__ = ["FAULTS", "TOPICS", "Chaos", "ChaosFailure", "ChaosReport", "main", "run_chaos"]

TOPICS: dict[str, tuple[str, ...]] = {
    "spotPublicV1": (
        "spot/ticker:BTC_USDT",
        "spot/ticker:ETH_USDT",
        "spot/depth5:BTC_USDT",
        "spot/depth20:ETH_USDT",
        "spot/bookTicker:BTC_USDT",
        "spot/kline1m:BTC_USDT",
        "spot/depth/increase100:BTC_USDT",
        "spot/trade:ETH_USDT",
    ),
    "spotPrivateV1": (
        "spot/user/order:BTC_USDT",
        "spot/user/order:ETH_USDT",
        "spot/user/balance:BALANCE_UPDATE",
        "spot/user/orders:ALL_SYMBOLS",
    ),
    "futuresPublicV2": (
        "futures/ticker:BTCUSDT",
        "futures/depth5:BTCUSDT",
        "futures/bookticker:ETHUSDT",
        "futures/trade:BTCUSDT",
        "futures/klineBin1m:ETHUSDT",
        "futures/depthIncrease5:ETHUSDT",
    ),
    "futuresPrivateV2": ("futures/position", "futures/asset:USDT", "futures/asset:BTC", "futures/order"),
}
"""The topic pool per key: public and private, spot and futures (the futures v1 keys of ``WsKey`` are
not reachable: every futures topic routes to v2)."""

MAX_TOPICS = 3  # per connection: the pools above need 2-3 shards per key
CONNECT_BUDGET = (40, 2.0)  # the chaos client's connect_rate: BitMart's 30/min, scaled for speed
ACK_TIMEOUT = 1.0
CLIENT_OPTIONS: dict[str, Any] = {
    "ping_interval": 0.2,
    "pong_timeout": 0.25,
    "reconnect_delay": 0.02,
    "reconnect_max_delay": 0.1,
    "ack_timeout": ACK_TIMEOUT,
    "connect_timeout": 2.0,
    "connect_rate": CONNECT_BUDGET,
    "max_message_size": 64 * 1024,
    "max_topics": dict.fromkeys(TOPICS, MAX_TOPICS),
    "api_key": DEFAULT_ACCOUNT.api_key,
    "api_secret": DEFAULT_ACCOUNT.api_secret,
    "api_memo": DEFAULT_ACCOUNT.api_memo,
}
SETTLE_TIMEOUT = 20.0
_decode = msgspec.json.Decoder().decode


class ChaosFailure(AssertionError):
    """A check failed; the message names the seed that replays the run."""


@dataclass
class ChaosReport:
    """What a run did and measured."""

    seed: int
    faults: Counter[str] = field(default_factory=Counter)
    recover_s: list[float] = field(default_factory=list)
    pushes: int = 0
    lost: int = 0
    duplicated: int = 0
    reordered: int = 0
    attempts: int = 0
    max_attempts_per_window: int = 0
    churn_requests: int = 0
    exceptions: int = 0
    elapsed_s: float = 0.0

    @property
    def recoveries(self) -> int:
        return len(self.recover_s)

    def table(self) -> str:
        """The summary printed by ``make chaos``."""
        lines = [f"chaos seed {self.seed}: {sum(self.faults.values())} faults in {self.elapsed_s:.1f} s", ""]
        lines.append(f"{'fault':<28}{'count':>7}")
        lines += [f"{kind:<28}{n:>7}" for kind, n in sorted(self.faults.items())]
        times = sorted(self.recover_s)
        median = statistics.median(times) if times else 0.0
        p99 = times[min(len(times) - 1, int(len(times) * 0.99))] if times else 0.0
        limit, window = CONNECT_BUDGET
        lines += [
            "",
            f"recoveries: {self.recoveries}",
            f"time to recover: median {median:.3f} s, p99 {p99:.3f} s, max {max(times, default=0.0):.3f} s",
            f"numbered pushes received: {self.pushes}",
            f"churn requests: {self.churn_requests}, exception events: {self.exceptions}",
            f"connection attempts: {self.attempts}, at most {self.max_attempts_per_window} in any "
            f"{window:g} s (budget {limit})",
            f"duplicated: {self.duplicated}, reordered: {self.reordered}",
            f"lost: {self.lost}",
        ]
        return "\n".join(lines)


Fault = Callable[["Chaos"], Awaitable[None]]


class Chaos:
    """One seeded run: a simulator, a client, the user's model and every check."""

    def __init__(self, seed: int, faults: int) -> None:
        self.seed = seed
        self.count = faults
        self.rng = random.Random(seed)
        self.report = ChaosReport(seed)
        self.sim = Simulator(
            SimulatorConfig(cadence=0.05, account_interval=0.1, sequence_pushes=True, seed=seed % 1000)
        )
        self.client: WebsocketClient | None = None
        self.desired: dict[str, set[str]] = {k: set() for k in TOPICS}
        self.requests: list[asyncio.Task[None]] = []
        self.changed = asyncio.Event()
        self.exceptions: list[dict[str, Any]] = []
        self.reconnects: list[dict[str, Any]] = []
        self.authenticated = 0
        self.responses = 0
        self.unnumbered: list[dict[str, Any]] = []
        self.last_n: dict[tuple[int, str], int] = {}
        self.attempt_times: list[float] = []
        self._seen_attempts = 0
        self._received_at = 0
        self._on_session: dict[int, set[str]] = {}
        self.problems: list[str] = []

    # -- the client's events -------------------------------------------------------------------------
    def _on_update(self, msg: dict[str, Any]) -> None:
        seq = msg.get("seq")
        if seq is None:
            self.unnumbered.append(msg)
            self.changed.set()
            return
        key = (seq["session"], seq["topic"])
        n = seq["n"]
        last = self.last_n.get(key, 0)
        self.report.pushes += 1
        if n == last + 1:
            self.last_n[key] = n
        elif n > last + 1:
            self.report.lost += n - last - 1
            self.problems.append(f"pushes {last + 1}..{n - 1} of {key} lost")
            self.last_n[key] = n
        elif n == last:
            self.report.duplicated += 1
            self.problems.append(f"push {n} of {key} duplicated")
        else:
            self.report.reordered += 1
            self.problems.append(f"push {n} of {key} after {last}")

    def _on_event(self, name: str) -> Callable[[dict[str, Any]], None]:
        def handler(payload: dict[str, Any]) -> None:
            if name == "exception":
                self.exceptions.append(payload)
                self.report.exceptions += 1
                error = payload.get("error")
                if error is not None and not isinstance(error, BitmartWSError):
                    self.problems.append(f"exception event with a foreign error: {payload['message']}")
            elif name == "reconnect":
                self.reconnects.append(payload)
            elif name == "authenticated":
                self.authenticated += 1
            elif name == "response":
                self.responses += 1
            self.changed.set()

        return handler

    def _new_client(self) -> WebsocketClient:
        client = WebsocketClient(ws_urls=self.sim.urls, **CLIENT_OPTIONS)
        client.on("update", self._on_update)
        for name in ("exception", "reconnect", "authenticated", "response"):
            client.on(name, self._on_event(name))
        return client

    async def until(self, predicate: Callable[[], bool], what: str, timeout: float = SETTLE_TIMEOUT) -> None:  # noqa: ASYNC109
        """Wait until ``predicate()`` holds, re-checked on every client event (and at least every 50 ms
        for simulator-side state)."""
        try:
            async with asyncio.timeout(timeout):
                while not predicate():
                    self.changed.clear()
                    try:
                        async with asyncio.timeout(0.05):
                            await self.changed.wait()
                    except TimeoutError:
                        pass
        except TimeoutError:
            raise self.failure(f"timed out after {timeout:g} s waiting for {what}") from None

    def failure(self, message: str) -> ChaosFailure:
        return ChaosFailure(f"chaos seed {self.seed}: {message} (replay: CHAOS_SEED={self.seed})")

    # -- the user --------------------------------------------------------------------------------------
    def _request(self, subscribe: bool, topics: list[str]) -> None:
        assert self.client is not None
        by_key = {k: [t for t in topics if t in TOPICS[k]] for k in TOPICS}
        for key, ts in by_key.items():
            if subscribe:
                self.desired[key].update(ts)
            else:
                self.desired[key].difference_update(ts)
        call = self.client.subscribe_topics if subscribe else self.client.unsubscribe_topics
        request = call(topics)
        self.report.churn_requests += 1
        self.requests.append(asyncio.ensure_future(self._await(request)))

    @staticmethod
    async def _await(request: Awaitable[None]) -> None:
        try:
            await request
        except BitmartWSError:
            pass  # a typed error is an allowed outcome while faults are active

    def churn(self) -> None:
        """One to three random subscribe/unsubscribe calls over the whole pool."""
        pool = [t for ts in TOPICS.values() for t in ts]
        for _ in range(self.rng.randint(1, 3)):
            topics = self.rng.sample(pool, self.rng.randint(1, 4))
            self._request(self.rng.random() < 0.6, topics)

    def pick_session(self, private: bool | None = None) -> int | None:
        sessions = sorted(
            (s for s in self.sim.sessions if private is None or s.is_private is private), key=lambda s: s.id
        )
        return self.rng.choice(sessions).id if sessions else None

    def gone(self, session_id: int) -> bool:
        return session_id not in {s.id for s in self.sim.sessions}

    async def drop(self, target: int | None = None, *, reset: bool = False) -> None:
        """Drop one session (None: all) and wait until the simulator has forgotten it."""
        gone = {s.id for s in self.sim.sessions} if target is None else {target}
        await self.sim.drop_connections(target, reset=reset)
        await self.sim.wait_for(lambda: not gone & {s.id for s in self.sim.sessions}, 5.0)

    async def disturb(self, private: bool | None = None) -> None:
        """Drop one random session (of that privacy); without one, subscribe a topic that opens one."""
        target = self.pick_session(private)
        if target is not None:
            await self.drop(target)
            return
        keys = [k for k in TOPICS if private is None or WsKey(k).is_private is private]
        self._request(True, [self.rng.choice(TOPICS[self.rng.choice(keys)])])

    def toggle_one(self) -> None:
        """Subscribe a random topic, or unsubscribe it when it is desired: either sends a frame."""
        key = self.rng.choice(list(TOPICS))
        topic = self.rng.choice(TOPICS[key])
        self._request(topic not in self.desired[key], [topic])

    # -- the run ---------------------------------------------------------------------------------------
    async def run(self) -> ChaosReport:
        started = time.monotonic()
        root = logging.getLogger()
        watch = _ProblemLog()
        root.addHandler(watch)
        sampler: asyncio.Task[None] | None = None
        try:
            async with self.sim:
                sampler = asyncio.create_task(self._sample_attempts())
                self.client = self._new_client()
                try:
                    self._request(True, [t for ts in TOPICS.values() for t in ts])
                    await self.settle("start")
                    kinds = list(FAULTS)
                    self.rng.shuffle(kinds)
                    for i in range(self.count):
                        kind = kinds[i] if i < len(kinds) else self.rng.choice(kinds)
                        self.report.faults[kind] += 1
                        task = asyncio.ensure_future(FAULTS[kind](self))
                        self.churn()
                        await task
                        await self.settle(kind)
                        if watch.problems:
                            raise self.failure(f"after {kind}: {watch.problems[0]}")
                finally:
                    await self.client.close_all()
                    await self.sim.wait_for(lambda: not self.sim.sessions, 5.0)
        finally:
            root.removeHandler(watch)
            if sampler is not None:
                sampler.cancel()
                await asyncio.wait([sampler])
        self.report.elapsed_s = time.monotonic() - started
        self.check_attempts()
        if watch.problems:
            raise self.failure(watch.problems[0])
        return self.report

    async def _sample_attempts(self) -> None:
        """Record the time of every upgrade attempt the simulator sees."""
        stats = self.sim.stats

        def seen() -> bool:
            while self._seen_attempts < stats.connection_attempts:
                self._seen_attempts += 1
                self.attempt_times.append(time.monotonic())
            return False

        while True:
            try:
                await self.sim.wait_for(seen, 3600.0)
            except TimeoutError:
                continue

    def check_attempts(self) -> None:
        limit, window = CONNECT_BUDGET
        times = self.attempt_times
        worst, j = 0, 0
        for i, t in enumerate(times):  # every window [t, t + window) that starts at an attempt
            j = max(j, i)
            while j < len(times) and times[j] < t + window:
                j += 1
            worst = max(worst, j - i)
        self.report.attempts = len(times)
        self.report.max_attempts_per_window = worst
        if worst > limit:
            raise self.failure(f"{worst} connection attempts within {window:g} s (budget {limit})")

    async def settle(self, kind: str) -> None:
        """After a fault ended: every check of the module docstring."""
        assert self.client is not None
        healed = time.monotonic()
        requests, self.requests = self.requests, []
        if requests:
            done, pending = await asyncio.wait(requests, timeout=SETTLE_TIMEOUT)
            if pending:
                stuck = [
                    (c.session.label, c.state.value, sorted(f"{o.value} {t}" for o, t in c.session._awaited))
                    for c in self.client.connections()
                    if c.session._awaited
                ]
                raise self.failure(f"after {kind}: {len(pending)} subscribe/unsubscribe calls hang: {stuck}")
            for task in done:
                if task.exception() is not None:
                    raise self.failure(f"after {kind}: a request raised {task.exception()!r}")
        client = self.client
        for key, want in self.desired.items():
            have = set(client.subscribed_topics(key))
            if have != want:
                raise self.failure(
                    f"after {kind}: client wants {sorted(have)} on {key}, user asked {sorted(want)}"
                )
        await self.until(self.recovered, f"recovery after {kind}")
        self.report.recover_s.append(time.monotonic() - healed)
        self.check_view(kind)
        self.check_subscribe_frames(kind)
        await self.check_pushes(kind)
        if self.problems:
            raise self.failure(f"after {kind}: {self.problems[0]}")

    def recovered(self) -> bool:
        assert self.client is not None
        for key in TOPICS:
            conns = self.client.connections(key)
            sessions = _sessions_of(self.sim, key)
            if len(sessions) != len(conns) or any(c.state.value != "live" for c in conns):
                return False
            want = sorted(sorted(c.registry.desired) for c in conns)
            if sorted(sorted(s.topics) for s in sessions) != want:
                return False
        return True

    def check_view(self, kind: str) -> None:
        for key, want in self.desired.items():
            sessions = _sessions_of(self.sim, key)
            held = Counter(t for s in sessions for t in s.topics)
            if set(held) != want or any(n != 1 for n in held.values()):
                raise self.failure(
                    f"after {kind}: the server holds {dict(held)} on {key}, want {sorted(want)}"
                )
            if WsKey(key).is_private and not all(s.authenticated for s in sessions):
                raise self.failure(f"after {kind}: an unauthenticated session on {key}")

    def check_subscribe_frames(self, kind: str) -> None:
        received = self.sim.received
        for frame in received[self._received_at :]:
            if not frame.text.startswith("{"):
                continue
            msg = _decode(frame.text)
            op = msg.get("op") or msg.get("action")
            if op not in ("subscribe", "unsubscribe"):
                continue
            held = self._on_session.setdefault(frame.session_id, set())
            for topic in msg.get("args", ()):
                if op == "unsubscribe":
                    held.discard(topic)
                elif topic in held:
                    raise self.failure(
                        f"after {kind}: session {frame.session_id} got {topic} subscribed twice"
                    )
                else:
                    held.add(topic)
        self._received_at = len(received)

    async def check_pushes(self, kind: str) -> None:
        """Every push the live sessions numbered so far reaches the client (in order: checked on arrival)."""
        owed = {(s.id, topic): n for s in self.sim.sessions for topic, n in s.pushed}
        if not owed:
            return

        def caught_up() -> bool:
            return all(self.last_n.get(k, 0) >= n for k, n in owed.items())

        try:
            await self.until(caught_up, "the numbered pushes", timeout=5.0)
        except ChaosFailure:
            missing = sum(n - self.last_n.get(k, 0) for k, n in owed.items() if self.last_n.get(k, 0) < n)
            self.report.lost += missing
            raise self.failure(f"after {kind}: {missing} pushes of live sessions never arrived") from None


def _sessions_of(sim: Simulator, key: str) -> list[SessionInfo]:
    k = WsKey(key)
    return [s for s in sim.sessions if s.market is k.market and s.path == k.path]


class _ProblemLog(logging.Handler):
    """Records log lines that mean a crash: unexpected errors, unretrieved exceptions, simulator bugs."""

    NEEDLES = ("unexpected error", "never retrieved", "simulator error", "Exception in callback")

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.problems: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.name.startswith("picows") and "WS parser error" in text:
            return  # picows' own line for a frame over max_frame_size: the documented 1009 refusal
        if record.levelno >= logging.ERROR or any(n in text for n in self.NEEDLES):
            self.problems.append(f"{record.name}: {text}")


# -- the faults: one entry each --------------------------------------------------------------------
async def _drop(chaos: Chaos) -> None:
    await chaos.disturb()


async def _drop_all(chaos: Chaos) -> None:
    await chaos.drop()


async def _reset(chaos: Chaos) -> None:
    target = chaos.pick_session()
    if target is not None:
        await chaos.drop(target, reset=True)


async def _close_frame(chaos: Chaos) -> None:
    code = chaos.rng.choice([1000, 1001, 1011, 4000])
    target = chaos.pick_session()
    if target is not None:
        await chaos.sim.close_connections(code, "chaos", target)
        await chaos.sim.wait_for(lambda: target not in {s.id for s in chaos.sim.sessions}, 5.0)


async def _mute_pongs(chaos: Chaos) -> None:
    seen = len(chaos.reconnects)
    chaos.sim.pause_pongs()

    def timed_out() -> bool:
        return any(isinstance(r["error"], PongTimeout) for r in chaos.reconnects[seen:])

    try:
        await chaos.until(timed_out, "a pong timeout")
    finally:
        chaos.sim.resume_pongs()


def _refuse(status: int) -> Fault:
    async def fault(chaos: Chaos) -> None:
        chaos.sim.refuse_upgrades(status, count=chaos.rng.randint(1, 3))
        await chaos.disturb()
        try:
            await chaos.until(lambda: chaos.sim.faults.refuse_status is None, f"{status} refusals consumed")
        finally:
            chaos.sim.clear_refusals()

    return fault


async def _reject_login(chaos: Chaos) -> None:
    chaos.sim.reject_logins(1)
    await chaos.disturb(private=True)
    try:
        await chaos.until(lambda: chaos.sim.faults.logins_to_reject == 0, "a rejected login")
    finally:
        chaos.sim.accept_logins()


def _delay(seconds: float, private: bool | None, *, expect: type[BitmartWSError] | None = None) -> Fault:
    """Delay logins and acks by ``seconds``; drop a session so that a login or a resubscription waits."""

    async def fault(chaos: Chaos) -> None:
        seen_exc, seen_auth = len(chaos.exceptions), chaos.authenticated
        chaos.sim.delay_acks(seconds)
        await chaos.disturb(private)
        chaos.toggle_one()

        def done() -> bool:
            if expect is not None:
                return any(isinstance(e.get("error"), expect) for e in chaos.exceptions[seen_exc:])
            return chaos.authenticated > seen_auth if private else chaos.recovered()

        try:
            await chaos.until(done, f"delayed acks of {seconds:g} s to take effect")
        finally:
            chaos.sim.delay_acks(0)

    return fault


def _malformed(kind: Malformed) -> Fault:
    async def fault(chaos: Chaos) -> None:
        seen_exc, seen_upd = len(chaos.exceptions), len(chaos.unnumbered)
        target = chaos.pick_session()
        if target is None or not await chaos.sim.send_malformed(kind, target):
            return
        if kind is Malformed.EMPTY_DATA:  # a valid push with "data": "": delivered as it is

            def seen() -> bool:
                return len(chaos.unnumbered) > seen_upd
        else:

            def seen() -> bool:
                return any(isinstance(e.get("error"), DecodeError) for e in chaos.exceptions[seen_exc:])

        # or the session went away meanwhile (a pong timeout on a starved machine) with the frame
        await chaos.until(lambda: seen() or chaos.gone(target), f"the {kind.value} frame to be handled")

    return fault


async def _oversized(chaos: Chaos) -> None:
    seen_exc, seen_rec = len(chaos.exceptions), len(chaos.reconnects)
    target = chaos.pick_session()
    if target is None or not await chaos.sim.send_oversized(256 * 1024, target):
        return

    def reported() -> bool:  # spot: dropped and reported; futures: over 4x the bound, refused (1009)
        too_big = any(isinstance(e.get("error"), MessageTooBig) for e in chaos.exceptions[seen_exc:])
        return too_big or any(r["code"] == 1009 for r in chaos.reconnects[seen_rec:]) or chaos.gone(target)

    await chaos.until(reported, "the oversized message to be refused")


async def _close_all_during_reconnect(chaos: Chaos) -> None:
    """Drop everything, then close_all while the reconnects are pending; then start again."""
    assert chaos.client is not None
    await chaos.drop()
    if chaos.rng.random() < 0.5:
        chaos.churn()  # a request in flight while close_all runs
    await chaos.client.close_all()
    await chaos.sim.wait_for(lambda: not chaos.sim.sessions, 5.0)
    if chaos.client.connections():
        raise chaos.failure("close_all left connections behind")
    for key in chaos.desired:
        chaos.desired[key] = set()
    chaos._request(True, chaos.rng.sample([t for ts in TOPICS.values() for t in ts], 12))


FAULTS: dict[str, Fault] = {
    "drop": _drop,
    "drop_all": _drop_all,
    "reset": _reset,
    "close_frame": _close_frame,
    "mute_pongs": _mute_pongs,
    "refuse_4xx": _refuse(403),
    "refuse_5xx": _refuse(503),
    "reject_login": _reject_login,
    "delay_login": _delay(0.3, True),
    # stalled past ack_timeout: the server also holds the pings back, so a login, ack or pong timeout
    "stalled_login": _delay(ACK_TIMEOUT + 0.3, True, expect=Timeout),
    "delay_acks": _delay(0.3, False),
    "stalled_acks": _delay(ACK_TIMEOUT + 0.3, False, expect=Timeout),
    **{f"malformed_{kind.value}": _malformed(kind) for kind in Malformed},
    "oversized": _oversized,
    "close_all_reconnecting": _close_all_during_reconnect,
}
"""Every fault kind of a run, by name (each ends when the fault is healed)."""


async def run_chaos(seed: int, faults: int) -> ChaosReport:
    """One seeded run of ``faults`` faults; raises :class:`ChaosFailure` naming the seed."""
    return await Chaos(seed, faults).run()


def main() -> None:
    seed = int(os.environ.get("CHAOS_SEED") or random.SystemRandom().randrange(2**32))
    faults = int(os.environ.get("CHAOS_FAULTS", "500"))
    sys.stderr.write(f"chaos: {faults} faults, CHAOS_SEED={seed}\n")
    try:
        report = asyncio.run(run_chaos(seed, faults))
    except ChaosFailure as failure:
        sys.stderr.write(f"FAILED: {failure}\n")
        raise SystemExit(1) from None
    sys.stdout.write(report.table() + "\n")


if __name__ == "__main__":
    main()
