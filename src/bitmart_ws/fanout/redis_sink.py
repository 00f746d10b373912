"""Redis Streams: one stream per topic, written by a Lua script that checks the dedup id and appends
in one atomic step (two publishers may write the same pushes at the same time).

Keys, for a topic ``T`` and the prefix ``P`` (default ``bitmart:``):

* ``P T``: the stream (``XADD ... MAXLEN ~ maxlen``), fields ``msg`` (the JSON text), ``recv`` (Unix
  ms), ``id`` (the dedup id ``seq:token``), ``kind`` (``u`` a push, ``s`` a publisher's book snapshot);
* ``P~last:T``: the last kept ``seq`` (``ORDERED`` topics);
* ``P~seen:T`` and ``P~order:T``: the recent ids, a set and its age order (``HASHED`` topics).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from ..exceptions import ConfigurationError
from .dedup import RECENT_IDS
from .sink import Entry, SinkUnavailable

__all__ = ["DEFAULT_MAXLEN", "DEFAULT_PREFIX", "RedisSink", "redis_client", "stream_key"]

log = logging.getLogger("bitmart_ws.fanout")

DEFAULT_PREFIX = "bitmart:"
DEFAULT_MAXLEN = 100_000

# ORDERED: a push is kept iff seq > last; a snapshot iff seq == last (it continues the stream exactly).
# HASHED: kept iff its id is new among the topic's recent ids. seq compared as decimal strings (exact
# beyond 2^53).
_SCRIPT = """
local stream, last_key, seen, order = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local maxlen, mode, keep = ARGV[1], ARGV[2], tonumber(ARGV[3])
local function gt(a, b)
  if #a ~= #b then return #a > #b end
  return a > b
end
local last = false
if mode == 'o' then last = redis.call('GET', last_key) end
local added = 0
for i = 4, #ARGV, 5 do
  local seq, token, msg, recv, kind = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4]
  local ok
  if mode == 'o' then
    if kind == 's' then
      ok = (last == seq)
    else
      ok = (not last) or gt(seq, last)
      if ok then last = seq end
    end
  elseif kind == 's' then
    ok = true
  else
    local id = seq .. ':' .. token
    ok = redis.call('SADD', seen, id) == 1
    if ok then
      redis.call('LPUSH', order, id)
      if redis.call('LLEN', order) > keep then redis.call('SREM', seen, redis.call('RPOP', order)) end
    end
  end
  if ok then
    redis.call('XADD', stream, 'MAXLEN', '~', maxlen, '*', 'msg', msg, 'recv', recv,
               'id', seq .. ':' .. token, 'kind', kind)
    added = added + 1
  end
end
if mode == 'o' and last then redis.call('SET', last_key, last) end
return added
"""

_CHUNK = 500  # entries per script call


def stream_key(prefix: str, topic: str) -> str:
    return prefix + topic


def redis_client(url: str) -> aioredis.Redis:
    """A redis-py asyncio client for ``url`` (``redis://host:port/db``), with short timeouts.

    Raises:
        ConfigurationError: ``url`` is not a Redis URL (the message never repeats it: it may hold a
            password).
    """
    try:
        return aioredis.Redis.from_url(
            url, socket_connect_timeout=2.0, socket_timeout=10.0, health_check_interval=5
        )
    except ValueError as exc:
        raise ConfigurationError(f"not a Redis URL (redis://host:port/db expected): {exc}") from None


class RedisSink:
    """Appends entries to one Redis stream per topic (see the module for the keys).

    Args:
        url: ``redis://host:port/db`` (or ``client``, an existing ``redis.asyncio.Redis``).
        prefix: of every key; the stream of a topic is ``prefix + topic``.
        maxlen: approximate cap of each stream (``MAXLEN ~``).
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        client: aioredis.Redis | None = None,
        prefix: str = DEFAULT_PREFIX,
        maxlen: int = DEFAULT_MAXLEN,
    ) -> None:
        if client is None:
            if url is None:
                raise ConfigurationError("RedisSink needs a url or a client")
            client = redis_client(url)
        self.prefix = prefix
        self.maxlen = maxlen
        self._redis = client
        self._script = client.register_script(_SCRIPT)

    def __repr__(self) -> str:
        return f"<RedisSink prefix={self.prefix!r} maxlen={self.maxlen}>"

    async def open(self) -> None:
        try:
            await self._redis.ping()
        except (RedisError, OSError) as exc:
            raise SinkUnavailable(f"redis: {exc}") from None

    async def write(self, entries: Sequence[Entry]) -> int:
        by_topic: dict[str, list[Entry]] = {}
        for entry in entries:
            by_topic.setdefault(entry.topic, []).append(entry)
        async with self._redis.pipeline(transaction=False) as pipe:  # reset even when cancelled
            for topic, items in by_topic.items():
                key = stream_key(self.prefix, topic)
                keys = [
                    key,
                    f"{self.prefix}~last:{topic}",
                    f"{self.prefix}~seen:{topic}",
                    f"{self.prefix}~order:{topic}",
                ]
                for start in range(0, len(items), _CHUNK):
                    args: list[Any] = [self.maxlen, items[0].mode.value, RECENT_IDS]
                    for e in items[start : start + _CHUNK]:
                        args += (str(e.dedup.seq), e.dedup.token, e.payload, e.received_ms, e.kind.value)
                    await self._script(keys, args, client=pipe)
            try:
                results = await pipe.execute()
            except (RedisError, OSError) as exc:
                task = asyncio.current_task()
                if task is not None and task.cancelling():  # redis-py may turn a cancellation into an error
                    raise asyncio.CancelledError from None
                raise SinkUnavailable(f"redis: {exc}") from None
        return sum(int(r) for r in results)

    async def close(self) -> None:
        await self._redis.aclose()
