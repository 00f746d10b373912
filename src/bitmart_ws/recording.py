"""Recordings that survive a crash: an append-only, compressed, rotating file format.

A recording is a set of files ``FILE``, ``FILE.1``, ``FILE.2``... (read in that order, as
``tcpdump -w -C`` numbers its files). Each file is::

    MAGIC (8 bytes: b"BMWSREC" + format version 1)
    block*

    block  = length (u32, big-endian) + CRC-32 of the body (u32) + body (``length`` bytes)
    body   = zlib-compressed concatenation of records
    record = kind (u8) + receive time in ns since the epoch (i64) + key length (u8)
             + payload length (u32) + ws key (UTF-8) + payload

Blocks are independent: a block whose header or body is cut short, or whose CRC does not match, ends
the readable part of its file; every block before it is intact and is read. The writer appends whole
blocks and ``fsync``\\ s after each one, so a crash or a power loss costs at most the records that were
still buffered (at most ``flush_interval`` seconds of them when :meth:`Recorder.flush` is called that
often) and, at worst, leaves one partial block at the end of the last file.

``kind`` says what the payload is: a frame exactly as received (:attr:`RecordKind.TEXT_FRAME`,
:attr:`RecordKind.BINARY_FRAME`: what ``bitmart-ws record`` writes, through the client's ``frame_tap``)
or the message dict that the client's ``update`` event delivers (:attr:`RecordKind.MESSAGE`).
:func:`updates` turns frames into those messages with the client's own decoding. A reader skips kinds
it does not know.

Files written by older versions of ``bitmart-ws stream --record`` (JSON lines ``{"ts": ms, "msg": {...}}``)
are read too.
"""

from __future__ import annotations

import enum
import os
import re
import struct
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

import msgspec

from .exceptions import BitmartWSError, ConfigurationError
from .protocol.inbound import Push, parse_frame
from .protocol.keys import WsKey

__all__ = [
    "MAGIC",
    "Damage",
    "Record",
    "RecordKind",
    "Recorder",
    "RecordingError",
    "encode_block",
    "parse_size",
    "read_recording",
    "recording_files",
    "updates",
]

MAGIC = b"BMWSREC\x01"
"""The first 8 bytes of every file of a recording (the last byte is the format version)."""

_BLOCK = struct.Struct(">II")  # body length, CRC-32 of the body
_RECORD = struct.Struct(">BqBI")  # kind, receive time (ns), key length, payload length
MAX_BLOCK_BYTES = 64 * 1024 * 1024
"""A block header announcing more than this is corrupt (the writer never writes blocks this big)."""

_encode = msgspec.json.Encoder().encode


class RecordKind(enum.IntEnum):
    """What a record's payload holds (one byte on disk; new kinds are new entries)."""

    MESSAGE = 1
    """The message dict of an ``update`` event (``wsKey`` included), JSON-encoded."""
    TEXT_FRAME = 2
    """A text frame exactly as received (data pushes, acknowledgements, pongs alike)."""
    BINARY_FRAME = 3
    """A binary frame exactly as received (spot's raw-deflate data pushes)."""


class RecordingError(BitmartWSError):
    """A recording cannot be read: a file is missing, is not a recording, or is damaged at ``offset``."""

    def __init__(self, message: str, *, path: Path, offset: int = 0) -> None:
        self.path = path
        self.offset = offset
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class Record:
    """One recorded item: ``payload`` of ``kind`` received on ``ws_key`` at ``received_ns``."""

    kind: RecordKind
    received_ns: int
    ws_key: str
    payload: bytes

    def message(self) -> Any:
        """The payload decoded as JSON (for :attr:`RecordKind.MESSAGE`, the ``update`` message)."""
        return msgspec.json.decode(self.payload)


@dataclass(frozen=True, slots=True)
class Damage:
    """Where a file of a recording stops being readable, and why (everything before it was read)."""

    path: Path
    offset: int
    reason: str
    records_before: int

    def __str__(self) -> str:
        return (
            f"{self.path}: {self.reason} at byte {self.offset}; "
            f"the {self.records_before} record(s) before it were read"
        )


def recording_files(path: str | os.PathLike[str]) -> list[Path]:
    """The files of the recording set ``path``, in order: ``path``, ``path.1``, ``path.2``...

    Numbering stops at the first missing sibling. Raises :class:`RecordingError` when ``path``
    itself does not exist.
    """
    first = Path(path)
    if not first.is_file():
        what = "is a directory" if first.is_dir() else "does not exist"
        raise RecordingError(f"{first} {what}", path=first)
    files = [first]
    while (sibling := _sibling(first, len(files))).is_file():
        files.append(sibling)
    return files


def _sibling(first: Path, index: int) -> Path:
    return first if index == 0 else first.with_name(f"{first.name}.{index}")


def encode_block(records: list[Record]) -> bytes:
    """One block (header + compressed body) holding ``records``."""
    parts: list[bytes] = []
    for record in records:
        key = record.ws_key.encode()
        parts.append(_RECORD.pack(record.kind, record.received_ns, len(key), len(record.payload)))
        parts.append(key)
        parts.append(record.payload)
    body = zlib.compress(b"".join(parts))
    return _BLOCK.pack(len(body), zlib.crc32(body)) + body


def _decode_body(body: bytes) -> Iterator[Record]:
    raw = zlib.decompress(body)
    view = memoryview(raw)
    pos = 0
    while pos < len(raw):
        kind, received_ns, key_len, payload_len = _RECORD.unpack_from(raw, pos)
        pos += _RECORD.size
        key = bytes(view[pos : pos + key_len]).decode()
        pos += key_len
        payload = bytes(view[pos : pos + payload_len])
        pos += payload_len
        if pos > len(raw):
            raise ValueError("a record runs past the end of its block")
        try:
            known = RecordKind(kind)
        except ValueError:
            continue  # a kind added after this reader: skipped
        yield Record(known, received_ns, key, payload)


def read_recording(
    path: str | os.PathLike[str], on_damage: Callable[[Damage], None] | None = None
) -> Iterator[Record]:
    """Every record of the recording set ``path`` (``path``, ``path.1``...), in order.

    Args:
        path: the first file of the set (what ``--out`` / ``--record`` named).
        on_damage: called with a :class:`Damage` when a file ends in a truncated or corrupt block;
            reading then goes on with the next file. Without it, :class:`RecordingError` is raised
            at that point (after every record before it was yielded).

    Raises:
        RecordingError: ``path`` does not exist or is not a recording; a damaged file without ``on_damage``.
    """
    for file in recording_files(path):
        with file.open("rb") as source:
            head = source.read(len(MAGIC))
            if head.startswith(b"{"):
                source.seek(0)
                yield from _read_json_lines(file, source)
                continue
            if head != MAGIC:
                if len(head) < len(MAGIC) and MAGIC.startswith(head):
                    damage = Damage(file, 0, "truncated header", 0)  # crashed while rotating
                    if on_damage is None:
                        raise RecordingError(str(damage), path=file)
                    on_damage(damage)
                    continue
                raise RecordingError(f"{file} is not a bitmart-ws recording", path=file)
            yield from _read_blocks(file, source, on_damage)


def _read_blocks(
    file: Path, source: IO[bytes], on_damage: Callable[[Damage], None] | None
) -> Iterator[Record]:
    offset = len(MAGIC)
    count = 0
    while True:
        header = source.read(_BLOCK.size)
        if not header:
            return
        reason = ""
        if len(header) < _BLOCK.size:
            reason = "truncated block header"
        else:
            length, crc = _BLOCK.unpack(header)
            body = source.read(length) if length <= MAX_BLOCK_BYTES else b""
            if length > MAX_BLOCK_BYTES:
                reason = f"corrupt block header (length {length})"
            elif len(body) < length:
                reason = f"truncated block ({len(body)} of {length} bytes)"
            elif zlib.crc32(body) != crc:
                reason = "corrupt block (CRC mismatch)"
            else:
                try:
                    records = list(_decode_body(body))
                except (zlib.error, struct.error, ValueError) as exc:
                    reason = f"corrupt block ({exc})"
                else:
                    yield from records
                    count += len(records)
                    offset += _BLOCK.size + length
                    continue
        damage = Damage(file, offset, reason, count)
        if on_damage is None:
            raise RecordingError(str(damage), path=file, offset=offset)
        on_damage(damage)
        return


def _read_json_lines(file: Path, source: IO[bytes]) -> Iterator[Record]:
    for line in source:
        try:
            entry = msgspec.json.decode(line)
            ts, message = int(entry["ts"]), entry["msg"]
        except (msgspec.DecodeError, KeyError, TypeError, ValueError):
            continue  # not a record line (a blank line, a partial last line)
        key = str(message.get("wsKey", "")) if isinstance(message, dict) else ""
        yield Record(RecordKind.MESSAGE, ts * 1_000_000, key, _encode(message))


class Recorder:
    """Append records to a recording set, in compressed blocks, ``fsync``\\ ed as they are written.

    Records are buffered and written as one block when :meth:`flush` is called, when the buffer
    holds ``block_bytes`` of payload, or when a record arrives ``flush_interval`` seconds after the
    oldest buffered one. Call :meth:`flush` at least every ``flush_interval`` seconds while records
    may pause (the CLI does it twice a second), so every record is on disk within that time.

    The writer never rewrites a byte: it starts a new file after the last existing one of the set
    (``path`` if it does not exist yet, else ``path.N``), and moves on to the next sibling once the
    current file holds ``rotate_size`` bytes or spans ``rotate_seconds`` of receive times (checked
    after each block, so a file may exceed ``rotate_size`` by one block).

    Raises:
        ConfigurationError: the parent folder is missing, ``path`` is a directory or an existing
            file that is not a recording, or a limit is not positive.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        rotate_size: int | None = None,
        rotate_seconds: float | None = None,
        flush_interval: float = 1.0,
        block_bytes: int = 256 * 1024,
    ) -> None:
        self.path = Path(path)
        for name, value in (
            ("rotate_size", rotate_size),
            ("rotate_seconds", rotate_seconds),
            ("flush_interval", flush_interval),
            ("block_bytes", block_bytes),
        ):
            if value is not None and not value > 0:
                raise ConfigurationError(f"{name} must be > 0, not {value!r}")
        if not self.path.parent.is_dir():
            raise ConfigurationError(
                f"cannot record to {self.path}: folder {self.path.parent} does not exist"
            )
        if self.path.is_dir():
            raise ConfigurationError(f"cannot record to {self.path}: it is a directory")
        if self.path.is_file() and self.path.stat().st_size and not _is_recording(self.path):
            raise ConfigurationError(f"cannot record to {self.path}: it exists and is not a recording")
        self.rotate_size = rotate_size
        self.rotate_ns = None if rotate_seconds is None else int(rotate_seconds * 1e9)
        self.flush_ns = int(flush_interval * 1e9)
        self.block_bytes = block_bytes
        self._buffer: list[Record] = []
        self._buffered = 0
        self._fd = -1
        self._size = 0
        self._file_start_ns: int | None = None
        self.files: list[Path] = []
        """The files this recorder has written, in order."""
        self._index = _next_index(self.path)
        self._open_next()

    def __repr__(self) -> str:
        return f"<Recorder {self.current} buffered={len(self._buffer)}>"

    @property
    def current(self) -> Path:
        """The file being written."""
        return self.files[-1]

    @property
    def closed(self) -> bool:
        return self._fd < 0

    def write(
        self, ws_key: str, payload: bytes, received_ns: int, kind: RecordKind = RecordKind.MESSAGE
    ) -> None:
        """Buffer one record (time is a parameter: ``time.time_ns()`` when it was received)."""
        if self._fd < 0:
            raise ConfigurationError(f"recorder of {self.path} is closed")
        self._buffer.append(Record(kind, received_ns, ws_key, payload))
        self._buffered += len(payload)
        if self._buffered >= self.block_bytes or received_ns - self._buffer[0].received_ns >= self.flush_ns:
            self.flush()

    def write_frame(self, ws_key: str, payload: bytes, binary: bool, received_ns: int) -> None:
        """Record one frame exactly as received, as :attr:`RecordKind.TEXT_FRAME` or ``BINARY_FRAME``."""
        self.write(ws_key, payload, received_ns, RecordKind.BINARY_FRAME if binary else RecordKind.TEXT_FRAME)

    def write_message(self, message: Any, received_ns: int) -> None:
        """Record an ``update`` message (a dict with ``wsKey``) as :attr:`RecordKind.MESSAGE`."""
        self.write(str(message.get("wsKey", "")), _encode(message), received_ns)

    def flush(self) -> None:
        """Write the buffered records as one block and ``fsync`` it (nothing to do when empty)."""
        if not self._buffer or self._fd < 0:
            return
        records, self._buffer, self._buffered = self._buffer, [], 0
        if self._file_start_ns is None:
            self._file_start_ns = records[0].received_ns
        block = encode_block(records)
        _write_all(self._fd, block)
        os.fsync(self._fd)
        self._size += len(block)
        if (self.rotate_size is not None and self._size >= self.rotate_size) or (
            self.rotate_ns is not None and records[-1].received_ns - self._file_start_ns >= self.rotate_ns
        ):
            os.close(self._fd)
            self._open_next()

    def close(self) -> None:
        """Flush and close (idempotent)."""
        if self._fd >= 0:
            try:
                self.flush()
            finally:
                os.close(self._fd)
                self._fd = -1

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _open_next(self) -> None:
        path = _sibling(self.path, self._index)
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
        reuse_empty = path.is_file() and path.stat().st_size == 0
        self._fd = os.open(path, flags if reuse_empty else flags | os.O_EXCL, 0o644)
        _write_all(self._fd, MAGIC)
        os.fsync(self._fd)
        _fsync_dir(path.parent)
        self._index += 1
        self._size = len(MAGIC)
        self._file_start_ns = None
        self.files.append(path)


def _is_recording(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(len(MAGIC)) == MAGIC


def _next_index(first: Path) -> int:
    """The index of the first file to write: 0 (``first``) when it is absent or empty, else after the last."""
    if not first.exists() or first.stat().st_size == 0:
        return 0
    index = 1
    while _sibling(first, index).exists():
        index += 1
    return index


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _fsync_dir(folder: Path) -> None:
    # a new file survives a power loss only once its directory entry is on disk too
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


_SIZE_RE = re.compile(r"(\d+(?:\.\d+)?)\s*([kmg]?)i?b?", re.IGNORECASE)
_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def parse_size(text: str) -> int:
    """``"100M"``, ``"64k"``, ``"1G"``, ``"5000"`` as a number of bytes (binary units).

    Raises:
        ConfigurationError: not a positive size.
    """
    match = _SIZE_RE.fullmatch(text.strip())
    size = int(float(match[1]) * _UNITS[match[2].lower()]) if match else 0
    if size <= 0:
        raise ConfigurationError(f"not a positive size: {text!r} (e.g. 100M, 64k, 5000)")
    return size


def updates(records: Iterable[Record]) -> Iterator[Record]:
    """The ``update`` messages of ``records``, as :attr:`RecordKind.MESSAGE` records, in order.

    Frame records go through the client's own decoding (:func:`bitmart_ws.protocol.parse_frame`:
    inflate, decode and the one "data push" predicate): a data push becomes the message the
    ``update`` event delivered (``wsKey`` added); acknowledgements, pongs and undecodable frames are
    skipped, as the client never hands them to ``update`` handlers.
    """
    for record in records:
        if record.kind is RecordKind.MESSAGE:
            yield record
            continue
        try:
            market = WsKey(record.ws_key).market
        except ValueError:
            continue
        inbound = parse_frame(market, record.payload, binary=record.kind is RecordKind.BINARY_FRAME)
        if isinstance(inbound, Push):
            message = {**inbound.raw, "wsKey": record.ws_key}
            yield Record(RecordKind.MESSAGE, record.received_ns, record.ws_key, _encode(message))
