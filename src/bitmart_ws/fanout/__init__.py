"""Fan-out through Redis Streams: one feed collected once (by one or several publishers) and shared.

``Publisher`` appends every ``update`` of some topics to a :class:`Sink` (``RedisSink``: one Redis
stream per topic); ``RedisFeed`` reads them back as raw entries, the same JSON messages, typed
streams, order books, or as a consumer group. Needs the ``redis`` extra (``pip install
'bitmart-ws[redis]'``). See docs/fanout.md.
"""

from .consumer import FeedEntry, GroupWorker, RedisBook, RedisFeed, parse_since
from .dedup import DEDUP_RULES, Coverage, DedupId, DedupRule, Mode, rule_for
from .publisher import DEFAULT_MAX_BUFFER, Publisher, PublisherStats, book_params, snapshot_message, topic_of
from .redis_sink import DEFAULT_MAXLEN, DEFAULT_PREFIX, RedisSink, stream_key
from .sink import Entry, EntryKind, FanoutError, Sink, SinkUnavailable

__all__ = [
    "DEDUP_RULES",
    "DEFAULT_MAXLEN",
    "DEFAULT_MAX_BUFFER",
    "DEFAULT_PREFIX",
    "Coverage",
    "DedupId",
    "DedupRule",
    "Entry",
    "EntryKind",
    "FanoutError",
    "FeedEntry",
    "GroupWorker",
    "Mode",
    "Publisher",
    "PublisherStats",
    "RedisBook",
    "RedisFeed",
    "RedisSink",
    "Sink",
    "SinkUnavailable",
    "book_params",
    "parse_since",
    "rule_for",
    "snapshot_message",
    "stream_key",
    "topic_of",
]
