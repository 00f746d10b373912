import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

from .redis_server import RedisServer


async def test_the_fixture_runs_a_real_redis_and_restarts_it_on_the_same_port(redis_server: RedisServer):
    r = aioredis.Redis.from_url(
        redis_server.url, retry=Retry(NoBackoff(), 2), retry_on_error=[RedisConnectionError]
    )
    try:
        await r.xadd("k", {"f": "v"})
        assert await r.xlen("k") == 1
        port = redis_server.port
        redis_server.kill()
        redis_server.start()
        assert redis_server.port == port
        assert await r.xlen("k") == 0  # no persistence: --save '' --appendonly no
        info = await r.config_get("appendonly")
        assert info == {"appendonly": "no"}
    finally:
        await r.aclose()
