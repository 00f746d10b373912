"""The work behind each command: stream, record, replay, demo, channels, simulate.

Every job is a coroutine returning the exit status; it prints through a :class:`Console` only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import difflib
import json
import os
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any

import msgspec

from ..client import WebsocketClient
from ..exceptions import (
    AckTimeout,
    AuthenticationError,
    ConfigurationError,
    DecodeError,
    InvalidTopic,
    SubscriptionError,
    TransportError,
)
from ..models import decode
from ..protocol.keys import Market, WsKey
from ..protocol.topics import CHANNELS, ArgKind, ChannelSpec, group_by_key, parse_topic, validate_symbol
from ..recording import Damage, Record, Recorder, read_recording, updates
from ..simulator import DEFAULT_ACCOUNT, Account, Simulator, SimulatorConfig
from ..simulator.market import futures_symbol
from ._args import CREDENTIAL_VARIABLES
from ._console import Console, Failures

__all__ = [
    "DEMO_TOPICS",
    "channels",
    "demo",
    "record",
    "replay",
    "simulate",
    "simulator_config",
    "stream",
]

DEMO_TOPICS: tuple[str, ...] = (
    "spot/ticker:BTC_USDT",
    "spot/depth5:BTC_USDT",
    "spot/trade:BTC_USDT",
    "spot/user/order:BTC_USDT",
    "spot/user/balance:BALANCE_UPDATE",
    "futures/ticker:BTCUSDT",
    "futures/depth20:BTCUSDT",
    "futures/asset:USDT",
    "futures/position",
    "futures/order",
)
"""Spot and futures, public and private: what ``bitmart-ws demo`` streams from the simulator."""

FLUSH_EVERY = 0.5
"""Seconds between recorder flushes: a recorded message is on disk within a second of its arrival."""

STATUS_EVERY = 0.5
"""Seconds between refreshes of the status line (only when stderr is a terminal)."""

_encode = msgspec.json.Encoder().encode
Emit = Callable[[dict[str, Any]], None]


# -- sources ------------------------------------------------------------------------------------------


def _credentials_from_env() -> dict[str, str]:
    values = {var: os.environ.get(var, "") for var in CREDENTIAL_VARIABLES}
    missing = [var for var, value in values.items() if not value]
    if len(missing) == len(values):
        return {}
    if missing:
        raise ConfigurationError(
            f"{' and '.join(missing)} not set: {', '.join(CREDENTIAL_VARIABLES)} go together"
        )
    key, secret, memo = values.values()
    return {"api_key": key, "api_secret": secret, "api_memo": memo}


def check_topics(topics: Sequence[str], has_credentials: bool, console: Console) -> None:
    """Validate ``topics`` before anything is sent; suggest the nearest channel for an unknown one.

    Raises:
        ConfigurationError: an invalid topic, or private topics without credentials.
    """
    grouped = group_by_key(topics)
    for parsed in (t for ts in grouped.values() for t in ts):
        if parsed.spec is None:
            near = difflib.get_close_matches(parsed.channel, list(CHANNELS), n=1)
            hint = f"; did you mean {near[0]}?" if near else ""
            console.notice(f"unknown channel {parsed.channel} in {parsed.text}{hint} (sending it anyway)")
    private = [t.text for key, ts in grouped.items() if key.is_private for t in ts]
    if private and not has_credentials:
        raise ConfigurationError(
            f"private topic(s) {', '.join(private)} need credentials: set {', '.join(CREDENTIAL_VARIABLES)}"
        )


def simulator_config(args: argparse.Namespace, **overrides: Any) -> SimulatorConfig:
    """The simulator settings that ``--symbols`` (and, for ``simulate``, its other options) describe."""
    symbols = tuple(s.strip().upper() for s in (args.symbols or "BTC_USDT,ETH_USDT").split(",") if s.strip())
    if not symbols:
        raise ConfigurationError("--symbols is empty")
    for symbol in symbols:
        problem = validate_symbol(symbol, Market.SPOT)
        if problem:
            raise ConfigurationError(f"--symbols: {problem}")
    futures = tuple(dict.fromkeys(futures_symbol(s) for s in symbols))
    return SimulatorConfig(symbols=symbols, futures_symbols=futures, **overrides)


@contextlib.asynccontextmanager
async def _serving(config: SimulatorConfig) -> AsyncIterator[Simulator]:
    sim = Simulator(config)
    try:
        await sim.start()
    except OSError as exc:
        await sim.close()
        where = f"{config.host} (spot port {config.spot_port}, futures port {config.futures_port})"
        raise ConfigurationError(f"cannot serve on {where}: {exc.strerror or exc}") from None
    try:
        yield sim
    finally:
        await sim.close()


@contextlib.asynccontextmanager
async def client_options(
    args: argparse.Namespace, topics: Sequence[str], console: Console
) -> AsyncIterator[dict[str, Any]]:
    """Options of :class:`WebsocketClient` for the source the arguments name (the simulator by default)."""
    if args.live or args.urls:
        if args.symbols:
            raise ConfigurationError("--symbols is for the embedded simulator, not --live or --urls")
        credentials = _credentials_from_env()
        check_topics(topics, bool(credentials), console)
        for key in group_by_key(topics):
            if args.urls and key.value not in args.urls:
                console.notice(
                    f"{key.value} is not in --urls: its topics go to {key.url(demo=args.demo_trading)}"
                )
        yield {**credentials, "ws_urls": args.urls, "demo_trading": args.demo_trading}
        return
    if args.demo_trading:
        raise ConfigurationError("--demo-trading is for --live")
    check_topics(topics, True, console)
    if not args.simulator:
        console.notice(
            "streaming from the embedded simulator (the default; --live for BitMart, --urls for others)"
        )
    async with _serving(simulator_config(args, cadence=0.25, account_interval=0.5)) as sim:
        console.info(f"simulator serving {json.dumps(sim.urls)}")
        yield {
            "ws_urls": {WsKey(k): v for k, v in sim.urls.items()},
            "api_key": DEFAULT_ACCOUNT.api_key,
            "api_secret": DEFAULT_ACCOUNT.api_secret,
            "api_memo": DEFAULT_ACCOUNT.api_memo,
        }


# -- streaming ----------------------------------------------------------------------------------------


class Watch:
    """Follows one client's lifecycle events: live connections, failures, rates, for notices and status."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.failures = Failures()  # connection attempts, per connection
        self.errors = Failures()  # other `exception` events, per connection and message
        self.live: set[str] = set()
        self.reconnects = 0
        self.messages = 0

    def wire(self, client: WebsocketClient) -> None:
        client.on("open", self._on_open)
        client.on("reconnected", self._on_reconnected)
        client.on("reconnect", self._on_reconnect)
        client.on("authenticated", lambda e: self.console.info(f"{_name(e)}: logged in"))
        client.on("close", lambda e: self.live.discard(_name(e)))
        client.on("exception", self._on_exception)

    def _on_open(self, event: dict[str, Any]) -> None:
        self.live.add(_name(event))
        self.console.info(f"{_name(event)}: open {event.get('url', '')}")
        self._recovered(event)

    def _on_reconnected(self, event: dict[str, Any]) -> None:
        self.live.add(_name(event))
        self.console.info(f"{_name(event)}: reconnected after {float(event.get('downtime', 0)):.1f} s")
        self._recovered(event)

    def _recovered(self, event: dict[str, Any]) -> None:
        line = self.failures.recovered(_name(event))
        if line:
            self.console.notice(line)

    def _on_reconnect(self, event: dict[str, Any]) -> None:
        name = _name(event)
        if name in self.live:
            self.reconnects += 1
        self.live.discard(name)
        cause = str(event.get("reason") or f"connection closed (code {event.get('code')})")
        line = self.failures.failed(name, cause, time.monotonic(), float(event.get("delay", 0.0)))
        if line:
            self.console.notice(line)

    def _on_exception(self, event: dict[str, Any]) -> None:
        error = event.get("error")
        # connection failures are summarised by `reconnect`; rejected topics by the subscribe result
        if self.console.verbosity == 0 and isinstance(error, TransportError | SubscriptionError):
            return
        if (
            self.console.verbosity == 0
            and isinstance(error, AuthenticationError)
            and not event.get("stopped")
        ):
            return  # a refused login is followed by `reconnect`, which reports it
        message = str(event.get("message", error))
        line = self.errors.failed(_name(event), message, time.monotonic(), key=f"{_name(event)} {message}")
        if line:
            self.console.notice(line)


def _name(event: dict[str, Any]) -> str:
    key = str(event.get("wsKey") or "client")
    shard = event.get("shard")
    return f"{key}#{shard}" if shard else key


class _Streaming:
    """One run of topics through a client: messages to ``emit``, the outcome in :meth:`exit_status`."""

    def __init__(self, topics: Sequence[str], console: Console, emit: Emit, count: int | None) -> None:
        self.topics = list(topics)
        self.console = console
        self.emit = emit
        self.count = count
        self.watch = Watch(console)
        self.rejected: dict[str, tuple[str | None, str]] = {}
        self.done = asyncio.Event()

    def on_update(self, message: dict[str, Any]) -> None:
        self.watch.messages += 1
        self.emit(message)
        if self.console.stdout_closed or (self.count is not None and self.watch.messages >= self.count):
            self.done.set()

    async def run(self, options: dict[str, Any]) -> None:
        async with WebsocketClient(**options) as client, _every(STATUS_EVERY, self._status()):
            client.on("update", self.on_update)
            self.watch.wire(client)
            try:
                await client.subscribe_topics(self.topics)
            except SubscriptionError as exc:
                self.rejected.update(exc.rejected)
                for topic, (code, text) in exc.rejected.items():
                    self.console.notice(
                        f"{topic} rejected by the server: {f'[{code}] ' if code else ''}{text}"
                    )
                if not exc.accepted:
                    return
            except AckTimeout as exc:
                self.console.notice(f"no acknowledgement yet for {', '.join(exc.topics)}; still trying")
            await self.done.wait()

    def _status(self) -> Callable[[], None]:
        last = [time.monotonic(), 0]

        def refresh() -> None:
            now, watch = time.monotonic(), self.watch
            rate = (watch.messages - last[1]) / max(now - last[0], 1e-9)
            last[:] = [now, watch.messages]
            self.console.status(
                f"{len(watch.live)} connection(s) live, {rate:.1f} msg/s, {watch.messages} messages, "
                f"{watch.reconnects} reconnect(s)"
            )

        return refresh

    def exit_status(self) -> int:
        self.console.end_status()
        if self.console.stdout_closed:
            return 0
        failing = self.watch.failures.failing()
        for line in failing:
            self.console.notice(line)
        if self.rejected:
            self.console.notice(f"{len(self.rejected)} topic(s) rejected: {', '.join(self.rejected)}")
        return 1 if failing or self.rejected else 0


@contextlib.asynccontextmanager
async def _every(seconds: float, action: Callable[[], None]) -> AsyncIterator[None]:
    """Run ``action`` every ``seconds`` in a task owned by this block (cancelled when it ends)."""

    async def loop() -> None:
        while True:
            await asyncio.sleep(seconds)
            action()

    task = asyncio.get_running_loop().create_task(loop())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@contextlib.contextmanager
def _recorder(path: Any, **options: Any) -> Iterator[Recorder | None]:
    if path is None:
        yield None
        return
    with Recorder(path, **options) as recorder:
        yield recorder


async def run_until(seconds: float | None, work: Callable[[], Any]) -> None:
    """Run ``work()`` until it returns or ``seconds`` after now (a deadline, not an error)."""
    try:
        async with asyncio.timeout(seconds) as deadline:
            await work()
    except TimeoutError:
        if not deadline.expired():
            raise


async def _stream_to(
    args: argparse.Namespace,
    topics: Sequence[str],
    console: Console,
    show: Callable[[dict[str, Any]], None] | None,
    recorder: Recorder | None,
) -> int:
    def emit(message: dict[str, Any]) -> None:
        if show is not None:
            show(message)

    def record(ws_key: str, payload: bytes, binary: bool) -> None:
        assert recorder is not None
        recorder.write_frame(ws_key, payload, binary, time.time_ns())

    streaming = _Streaming(topics, console, emit, args.count)

    async def work() -> None:
        async with client_options(args, topics, console) as options:
            if recorder is None:
                await streaming.run(options)
                return
            async with _every(FLUSH_EVERY, recorder.flush):
                await streaming.run({**options, "frame_tap": record})  # the frames as received

    await run_until(args.seconds, work)  # the deadline counts from the start, connecting included
    return streaming.exit_status()


def _shower(console: Console, pretty: bool) -> Callable[[dict[str, Any]], None]:
    if pretty:
        return lambda message: console.message(msgspec.json.format(_encode(message), indent=2).decode())
    return lambda message: console.message(_encode(message).decode())


async def stream(args: argparse.Namespace, console: Console) -> int:
    """``stream TOPIC...``: JSON lines on stdout (and the same messages to ``--record``)."""
    if getattr(args, "from_url", None):
        from ._fanout import stream_from

        return await stream_from(args, console)
    with _recorder(args.record) as recorder:
        return await _stream_to(
            args, args.topics, console, _shower(console, args.format == "pretty"), recorder
        )


async def record(args: argparse.Namespace, console: Console) -> int:
    """``record TOPIC... --out FILE``: messages to a rotating recording only."""
    with _recorder(args.out, rotate_size=args.rotate_size, rotate_seconds=args.rotate_seconds) as recorder:
        code = await _stream_to(args, args.topics, console, None, recorder)
        assert recorder is not None
        console.info(f"recorded to {', '.join(map(str, recorder.files))}")
        return code


async def demo(args: argparse.Namespace, console: Console) -> int:
    """``demo``: :data:`DEMO_TOPICS` from the embedded simulator for ``--seconds``."""
    demo_args = argparse.Namespace(
        live=False,
        urls=None,
        simulator=True,
        symbols=None,
        demo_trading=False,
        count=None,
        seconds=args.seconds,
    )
    with _recorder(args.record) as recorder:
        return await _stream_to(demo_args, DEMO_TOPICS, console, _shower(console, False), recorder)


async def replay(args: argparse.Namespace, console: Console) -> int:
    """``replay FILE``: the recorded messages as JSON lines (or served with ``--serve``); a damaged
    file is reported (status 1)."""
    damaged: list[Damage] = []

    def on_damage(damage: Damage) -> None:
        damaged.append(damage)
        console.notice(f"damaged recording: {damage}")

    records = updates(read_recording(args.file, on_damage))
    if args.serve:
        await _serve_replay(args, console, records)
        return 1 if damaged else 0
    async for item in _paced(records, args.speed or 0.0):
        console.message(item.payload.decode())
        if console.stdout_closed:
            return 0
    return 1 if damaged else 0


async def _paced(records: Iterator[Record], speed: float) -> AsyncIterator[Record]:
    """``records`` at ``speed`` times their recorded pace (0: at once, letting signals in now and then)."""
    previous: int | None = None
    for number, item in enumerate(records, 1):
        if speed > 0 and previous is not None and item.received_ns > previous:
            await asyncio.sleep((item.received_ns - previous) / 1e9 / speed)
        elif number % 1000 == 0:
            await asyncio.sleep(0)  # let Ctrl-C / SIGTERM in
        previous = item.received_ns
        yield item


SERVE_GRACE = 1.0
"""``replay --serve``: seconds after the first subscription before the replay starts anyway, when not
every recorded topic has a subscriber by then."""


def served_topics(message: Any) -> tuple[str, ...]:
    """The topics a recorded ``update`` message is pushed to: its topic, and the topic without the speed
    suffix the server adds (``futures/ticker:BTCUSDT@100ms`` is subscribed as ``futures/ticker:BTCUSDT``)."""
    if not isinstance(message, dict):
        return ()
    try:
        topic = decode(message).topic
    except DecodeError:
        return ()
    base = topic.partition("@")[0]
    return (base,) if base == topic else (base, topic)


def _replay_config(file: Any, args: argparse.Namespace) -> tuple[SimulatorConfig, dict[str, tuple[str, ...]]]:
    """The simulator settings serving a recording's symbols, and its topics (base -> candidates)."""
    topics: dict[str, tuple[str, ...]] = {}
    symbols: dict[Market, dict[str, None]] = {Market.SPOT: {}, Market.FUTURES: {}}
    for record in updates(read_recording(file, lambda damage: None)):  # damage: reported by the replay
        candidates = served_topics(record.message())
        if not candidates or candidates[0] in topics:
            continue
        topics[candidates[0]] = candidates
        try:
            parsed = parse_topic(candidates[0])
        except InvalidTopic:
            continue
        if parsed.symbol is not None:
            symbols[parsed.market][parsed.symbol] = None
    config = SimulatorConfig(
        host=args.host,
        spot_port=args.spot_port,
        futures_port=args.futures_port,
        symbols=tuple(symbols[Market.SPOT]) or SimulatorConfig().symbols,
        futures_symbols=tuple(symbols[Market.FUTURES]),
        cadence=0,  # no market of its own: only the recording is pushed
    )
    return config, topics


async def _serve_replay(args: argparse.Namespace, console: Console, records: Iterator[Record]) -> None:
    config, topics = _replay_config(args.file, args)
    async with _serving(config) as sim:
        for candidates in topics.values():
            for topic in candidates:
                sim.pause_topic(topic)  # subscribers get the recording only, not the simulator's own frames
        console.message(json.dumps(sim.urls))
        console.notice(
            f"serving {len(topics)} recorded topic(s); the replay starts when a client subscribes "
            f"({', '.join(topics) or 'none'})"
        )

        def subscribed() -> set[str]:
            return {t for session in sim.sessions for t in session.topics}

        def covered(every: bool) -> bool:
            held = subscribed()
            hits = (any(t in held for t in candidates) for candidates in topics.values())
            return all(hits) if every else any(hits)

        while not covered(every=False):
            with contextlib.suppress(TimeoutError):
                await sim.wait_for(lambda: covered(every=False), timeout=3600)
        with contextlib.suppress(TimeoutError):
            await sim.wait_for(lambda: covered(every=True), timeout=SERVE_GRACE)
        pushed = unheard = 0
        speed = 1.0 if args.speed is None else args.speed
        async for record in _paced(records, speed):
            message = record.message()
            if isinstance(message, dict):
                message.pop("wsKey", None)  # added by the client, never on the wire
            reached = 0
            for topic in served_topics(message):
                reached += await sim.push_raw(topic, message)
            pushed += 1
            unheard += reached == 0
        console.notice(f"replayed {pushed} message(s); {unheard} had no subscriber")


async def simulate(args: argparse.Namespace, console: Console) -> int:
    """``simulate``: serve until interrupted, after printing the URLs as one JSON line."""
    config = simulator_config(
        args,
        host=args.host,
        spot_port=args.spot_port,
        futures_port=args.futures_port,
        accounts=(Account(args.api_key, args.api_secret, args.api_memo),),
        cadence=args.cadence,
        seed=args.seed,
        compress=args.compress,
    )
    async with _serving(config) as sim:
        console.message(json.dumps(sim.urls))
        await asyncio.Event().wait()
    return 0  # pragma: no cover - only a signal ends it (status 0)


# -- channels -----------------------------------------------------------------------------------------


def _argument_form(spec: ChannelSpec) -> str:
    speeds = f"[@{'|@'.join(sorted(spec.speeds))}]" if spec.speeds else ""
    forms = {
        ArgKind.NONE: "",
        ArgKind.SYMBOL: ":SYMBOL",
        ArgKind.OPTIONAL_SYMBOL: "[:SYMBOL]",
        ArgKind.FIXED: ":" + "|".join(sorted(spec.values)),
    }
    return (forms[spec.arg] + speeds) or "-"


def example_topic(spec: ChannelSpec) -> str:
    """A valid topic of ``spec``'s channel (symbols of the simulator's default market)."""
    if spec.arg is ArgKind.NONE:
        return spec.name
    if spec.arg is ArgKind.FIXED:
        return f"{spec.name}:{min(spec.values)}"
    return f"{spec.name}:{'BTC_USDT' if spec.market is Market.SPOT else 'BTCUSDT'}"


async def channels(args: argparse.Namespace, console: Console) -> int:
    """``channels``: every channel of the registry, one line each."""
    rows = [("CHANNEL", "MARKET", "ACCESS", "ARGUMENT", "EXAMPLE")]
    rows += [
        (s.name, s.market.value, "private" if s.is_private else "public", _argument_form(s), example_topic(s))
        for s in CHANNELS.values()
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        console.message("  ".join([*(cell.ljust(w) for cell, w in zip(row, widths, strict=False)), row[4]]))
        if console.stdout_closed:
            break
    return 0
