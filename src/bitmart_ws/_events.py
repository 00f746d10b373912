"""Event handlers: registration, synchronous dispatch, and one bounded dispatcher for async handlers."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections import deque
from collections.abc import Callable
from typing import Any

from .exceptions import ConfigurationError, StreamOverflow
from .protocol.inbound import push_topics

__all__ = ["EVENTS", "HANDLER_OVERFLOWS", "Emitter", "Handler"]

EVENTS = ("open", "update", "reconnect", "reconnected", "authenticated", "response", "exception", "close")
HANDLER_OVERFLOWS = ("block", "drop_oldest", "keep_latest", "fail")
Handler = Callable[[dict[str, Any]], Any]
_Item = tuple[str, Handler, Any, dict[str, Any]]


class Emitter:
    """Handlers per event. Sync handlers run inline, in emit order; async ones run, in the same order,
    on one dispatcher task owned by the emitter (created when first needed, stopped by :meth:`stop`).

    The async handlers' queue holds at most ``maxsize`` calls. When it is full, ``overflow`` decides,
    as for streams: ``"block"`` asks the client to stop reading its sockets (``on_pressure(True)``)
    until the queue is half empty; ``"drop_oldest"`` drops the oldest queued call; ``"keep_latest"``
    drops the queued call of the same handler for the same push topic (``table``/``group`` and
    symbol), else the oldest; ``"fail"`` drops every queued call and reports it as an ``exception``
    event (:class:`~bitmart_ws.exceptions.StreamOverflow`): the handlers fell behind, loudly. Dropped
    calls are counted in :attr:`dropped`.

    Internal taps (the client's stream and book router) run before the user's sync handlers and are
    not affected by :meth:`off`. A handler that raises is reported as an ``exception`` event and
    logged; an ``exception`` handler that raises is only logged.
    """

    __slots__ = (
        "_async",
        "_blocking",
        "_handlers",
        "_items",
        "_logger",
        "_sync",
        "_taps",
        "_task",
        "_waiter",
        "dropped",
        "maxsize",
        "on_pressure",
        "overflow",
        "update_async",
        "update_sync",
    )

    def __init__(
        self,
        logger: logging.Logger,
        *,
        maxsize: int = 10_000,
        overflow: str = "block",
        on_pressure: Callable[[bool], None] | None = None,
    ) -> None:
        if not isinstance(maxsize, int) or maxsize < 1:
            raise ConfigurationError(f"handler_queue size must be a positive int, not {maxsize!r}")
        if overflow not in HANDLER_OVERFLOWS:
            raise ConfigurationError(
                f"handler_queue overflow must be one of {HANDLER_OVERFLOWS}, not {overflow!r}"
            )
        self._logger = logger
        self.maxsize = maxsize
        self.overflow = overflow
        self.on_pressure = on_pressure
        self.dropped = 0
        self._handlers: dict[str, list[Handler]] = {e: [] for e in EVENTS}
        self._taps: dict[str, tuple[Handler, ...]] = {e: () for e in EVENTS}
        self._sync: dict[str, tuple[Handler, ...]] = {e: () for e in EVENTS}
        self._async: dict[str, tuple[Handler, ...]] = {e: () for e in EVENTS}
        self.update_sync: tuple[Handler, ...] = ()
        self.update_async: tuple[Handler, ...] = ()
        self._items: deque[_Item | None] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._task: asyncio.Task[None] | None = None
        self._blocking = False

    @staticmethod
    def check(event: str) -> None:
        if event not in EVENTS:
            raise ConfigurationError(f"unknown event {event!r}; events are: {', '.join(EVENTS)}")

    def on(self, event: str, handler: Handler) -> None:
        self.check(event)
        if not callable(handler):
            raise ConfigurationError(f"handler for {event!r} is not callable: {handler!r}")
        self._handlers[event].append(handler)
        self._rebuild(event)

    def off(self, event: str, handler: Handler | None = None) -> None:
        self.check(event)
        if handler is None:
            self._handlers[event].clear()
        elif handler in self._handlers[event]:
            self._handlers[event].remove(handler)
        self._rebuild(event)

    def tap(self, event: str, handler: Handler | None) -> None:
        """Set (or with None remove) the internal tap of ``event``."""
        self._taps[event] = () if handler is None else (handler,)
        self._rebuild(event)

    def _rebuild(self, event: str) -> None:
        hs = self._handlers[event]
        self._sync[event] = self._taps[event] + tuple(h for h in hs if not inspect.iscoroutinefunction(h))
        self._async[event] = tuple(h for h in hs if inspect.iscoroutinefunction(h))
        self.update_sync = self._sync["update"]
        self.update_async = self._async["update"]

    def emit(self, event: str, payload: dict[str, Any]) -> None:
        """Call every handler of ``event`` (the connection's hot path inlines this for ``update``,
        over :attr:`update_sync`, :meth:`returned` and :meth:`enqueue_async`)."""
        for handler in self._sync[event]:
            try:
                result = handler(payload)
            except Exception as exc:
                self.handler_failed(event, handler, exc, payload)
            else:
                if result is not None:
                    self.returned(event, handler, result, payload)
        if self._async[event]:
            self.enqueue_async(event, payload)

    def returned(self, event: str, handler: Handler, result: Any, payload: dict[str, Any]) -> None:
        """A sync handler returned something: an awaitable runs on the dispatcher, in order."""
        if inspect.isawaitable(result):
            self._enqueue(event, handler, result, payload)

    def enqueue_async(self, event: str, payload: dict[str, Any]) -> None:
        for handler in self._async[event]:
            self._enqueue(event, handler, None, payload)

    def handler_failed(
        self, event: str, handler: Handler, exc: BaseException, payload: dict[str, Any]
    ) -> None:
        name = getattr(handler, "__qualname__", repr(handler))
        self._logger.error("%s handler %s raised %r", event, name, exc, exc_info=exc)
        if event == "exception":
            return
        self.emit(
            "exception",
            {
                "wsKey": payload.get("wsKey") if isinstance(payload, dict) else None,
                "message": f"{event} handler {name} raised {type(exc).__name__}: {exc}",
                "error": exc,
                "event": event,
            },
        )

    # --- async dispatcher -------------------------------------------------------------------------
    @property
    def queued(self) -> int:
        return len(self._items)

    def _enqueue(self, event: str, handler: Handler, awaitable: Any, payload: dict[str, Any]) -> None:
        items = self._items
        if len(items) >= self.maxsize:
            overflow = self.overflow
            if overflow == "drop_oldest":
                self._drop(items.popleft())
            elif overflow == "keep_latest":
                self._drop(self._take_older(items, event, handler, payload))
            elif overflow == "fail":
                dropped = len(items)
                while items:
                    self._drop(items.popleft())
                error = StreamOverflow(
                    f"async handlers fell {dropped} calls behind (handler_queue overflow=fail): "
                    "the queued calls were dropped",
                    maxsize=self.maxsize,
                )
                self._logger.error("%s", error)
                self.emit("exception", {"wsKey": payload.get("wsKey"), "message": str(error), "error": error})
            elif not self._blocking and self.on_pressure is not None:
                self._blocking = True
                self.on_pressure(True)
        items.append((event, handler, awaitable, payload))
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._dispatch())
        self._wake()

    @staticmethod
    def _take_older(
        items: deque[_Item | None], event: str, handler: Handler, payload: dict[str, Any]
    ) -> _Item | None:
        """Remove and return the queued call of ``handler`` for the same topic as ``payload``
        (the oldest call when there is none). Runs only on overflow."""
        topic = _topic_key(payload)
        for i, item in enumerate(items):
            if item is not None and item[0] == event and item[1] is handler and _topic_key(item[3]) == topic:
                del items[i]
                return item
        return items.popleft()

    def _drop(self, item: _Item | None) -> None:
        self.dropped += 1
        if item is not None and item[2] is not None:
            item[2].close()  # a coroutine that will never run

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def _dispatch(self) -> None:
        items = self._items
        while True:
            if not items:
                self._waiter = asyncio.get_running_loop().create_future()
                await self._waiter
                self._waiter = None
                continue
            item = items.popleft()
            if self._blocking and len(items) <= self.maxsize // 2:
                self._blocking = False
                if self.on_pressure is not None:
                    self.on_pressure(False)
            if item is None:
                return
            event, handler, awaitable, payload = item
            try:
                await (awaitable if awaitable is not None else handler(payload))
            except Exception as exc:
                self.handler_failed(event, handler, exc, payload)

    async def stop(self, drain_timeout: float = 1.0) -> None:
        """Let queued async handlers finish (bounded), then end the dispatcher task."""
        task, self._task = self._task, None
        if task is None:
            return
        self._items.append(None)
        self._wake()
        if self._blocking:
            self._blocking = False
            if self.on_pressure is not None:
                self.on_pressure(False)
        if task is asyncio.current_task():
            return  # close_all() awaited from inside an async handler: the dispatcher ends after it
        done, _ = await asyncio.wait({task}, timeout=drain_timeout)
        if not done:
            task.cancel()
            await asyncio.wait({task})
        for item in self._items:  # calls that never ran: their coroutines are closed, not leaked
            if item is not None and item[2] is not None:
                item[2].close()
        self._items.clear()


def _topic_key(payload: dict[str, Any]) -> tuple[Any, ...]:
    """What makes two calls "the same topic" for ``keep_latest``: the connection and the push's topics."""
    return (payload.get("wsKey"), *push_topics(payload))
