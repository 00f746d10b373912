"""The recording format: round trips, any truncation point, corruption, rotation, appending, legacy files."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bitmart_ws.exceptions import ConfigurationError
from bitmart_ws.recording import (
    MAGIC,
    Damage,
    Record,
    Recorder,
    RecordingError,
    RecordKind,
    encode_block,
    parse_size,
    read_recording,
    recording_files,
)

records_st = st.builds(
    Record,
    st.just(RecordKind.MESSAGE),
    st.integers(min_value=0, max_value=2**62),
    st.sampled_from(["spotPublicV1", "futuresPrivateV2", ""]),
    st.binary(max_size=300),
)
blocks_st = st.lists(st.lists(records_st, min_size=1, max_size=5), min_size=1, max_size=6)
NO_TMP = [HealthCheck.function_scoped_fixture]


def _write(path: Path, blocks: list[list[Record]]) -> None:
    with Recorder(path) as recorder:
        for block in blocks:
            for r in block:
                recorder.write(r.ws_key, r.payload, r.received_ns, r.kind)
            recorder.flush()


@settings(max_examples=60, suppress_health_check=NO_TMP, deadline=None)
@given(blocks=blocks_st)
def test_round_trip(tmp_path: Path, blocks: list[list[Record]]) -> None:
    path = tmp_path / "rt.rec"
    path.unlink(missing_ok=True)
    _write(path, blocks)
    assert list(read_recording(path)) == [r for b in blocks for r in b]


@settings(max_examples=150, suppress_health_check=NO_TMP, deadline=None)
@given(blocks=blocks_st, data=st.data())
def test_any_truncation_keeps_every_complete_block_before_it(
    tmp_path: Path, blocks: list[list[Record]], data: st.DataObject
) -> None:
    encoded = [encode_block(b) for b in blocks]
    whole = MAGIC + b"".join(encoded)
    cut = data.draw(st.integers(min_value=len(MAGIC), max_value=len(whole)))
    path = tmp_path / "cut.rec"
    path.write_bytes(whole[:cut])
    complete, end = 0, len(MAGIC)
    for block in encoded:
        if end + len(block) > cut:
            break
        end += len(block)
        complete += 1
    damages: list[Damage] = []
    got = list(read_recording(path, damages.append))
    assert got == [r for b in blocks[:complete] for r in b]
    if cut == end:
        assert damages == []
    else:
        assert [(d.offset, d.records_before) for d in damages] == [(end, len(got))]
        assert "truncated" in damages[0].reason
        with pytest.raises(RecordingError) as raised:
            list(read_recording(path))
        assert raised.value.offset == end


@settings(max_examples=80, suppress_health_check=NO_TMP, deadline=None)
@given(blocks=blocks_st, data=st.data())
def test_a_flipped_byte_is_detected_and_earlier_blocks_kept(
    tmp_path: Path, blocks: list[list[Record]], data: st.DataObject
) -> None:
    encoded = [encode_block(b) for b in blocks]
    whole = bytearray(MAGIC + b"".join(encoded))
    position = data.draw(st.integers(min_value=len(MAGIC), max_value=len(whole) - 1))
    whole[position] ^= 0xFF
    path = tmp_path / "flip.rec"
    path.write_bytes(bytes(whole))
    damages: list[Damage] = []
    got = list(read_recording(path, damages.append))
    start = len(MAGIC)
    intact = 0
    for block in encoded:
        if start + len(block) > position:
            break
        start += len(block)
        intact += 1
    assert got == [r for b in blocks[:intact] for r in b]
    assert len(damages) == 1 and damages[0].offset == start


def test_rotation_by_size_and_time_writes_numbered_siblings_read_in_order(tmp_path: Path) -> None:
    path = tmp_path / "rot.rec"
    written = []
    with Recorder(path, rotate_size=200, rotate_seconds=5.0) as recorder:
        for i in range(30):
            payload = json.dumps({"i": i, "pad": "x" * 50}).encode()
            recorder.write("spotPublicV1", payload, i * 10**9)
            written.append(payload)
            recorder.flush()
    assert recorder.files == recording_files(path)
    assert [p.name for p in recorder.files[:3]] == ["rot.rec", "rot.rec.1", "rot.rec.2"]
    assert all(p.stat().st_size >= 200 for p in recorder.files[:-1])
    assert len(recorder.files) >= 5
    assert [r.payload for r in read_recording(path)] == written
    by_time = tmp_path / "time.rec"
    with Recorder(by_time, rotate_seconds=5.0) as recorder:
        for i in range(12):
            recorder.write("k", b"{}", i * 10**9)
            recorder.flush()
    assert len(recorder.files) == 3  # records 0-5, 6-11 span 5 s each; the third file is the next one


def test_records_buffer_until_the_flush_interval_or_block_size(tmp_path: Path) -> None:
    path = tmp_path / "buf.rec"
    recorder = Recorder(path, flush_interval=1.0, block_bytes=1000)
    recorder.write("k", b"1", 0)
    recorder.write("k", b"2", 500_000_000)
    assert path.read_bytes() == MAGIC  # buffered: less than a second, small
    recorder.write("k", b"3", 1_000_000_000)  # a second after the oldest buffered record
    assert [r.payload for r in read_recording(path)] == [b"1", b"2", b"3"]
    recorder.write("k", b"x" * 1000, 1_100_000_000)  # a full block
    assert len(list(read_recording(path))) == 4
    recorder.close()
    recorder.close()
    with pytest.raises(ConfigurationError):
        recorder.write("k", b"late", 2_000_000_000)


def test_a_new_recorder_appends_a_new_file_after_an_existing_set(tmp_path: Path) -> None:
    path = tmp_path / "again.rec"
    with Recorder(path) as first:
        first.write("k", b"1", 1)
    # a crash left a partial block at the end of the first file
    with path.open("ab") as f:
        f.write(b"\x00\x00\x01")
    with Recorder(path) as second:
        second.write("k", b"2", 2)
    assert second.files == [tmp_path / "again.rec.1"]
    damages: list[Damage] = []
    assert [r.payload for r in read_recording(path, damages.append)] == [b"1", b"2"]
    assert len(damages) == 1 and damages[0].path == path


def test_bad_destinations_are_configuration_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        Recorder(tmp_path / "missing" / "x.rec")
    with pytest.raises(ConfigurationError, match="is a directory"):
        Recorder(tmp_path)
    other = tmp_path / "notes.txt"
    other.write_text("my notes")
    with pytest.raises(ConfigurationError, match="not a recording"):
        Recorder(other)
    assert other.read_text() == "my notes"
    with pytest.raises(ConfigurationError, match="rotate_size"):
        Recorder(tmp_path / "y.rec", rotate_size=0)
    with pytest.raises(RecordingError, match="does not exist"):
        list(read_recording(tmp_path / "none.rec"))
    with pytest.raises(RecordingError, match="not a bitmart-ws recording"):
        list(read_recording(other))


def test_legacy_json_lines_recordings_are_read(tmp_path: Path) -> None:
    path = tmp_path / "old.jsonl"
    path.write_text(
        '{"ts": 1000, "msg": {"a": 1, "wsKey": "spotPublicV1"}}\nnot json\n\n{"ts": 1100, "msg": {"a": 2}}\n'
    )
    got = list(read_recording(path))
    assert [(r.received_ns, r.ws_key, r.message()) for r in got] == [
        (1_000_000_000, "spotPublicV1", {"a": 1, "wsKey": "spotPublicV1"}),
        (1_100_000_000, "", {"a": 2}),
    ]


def test_unknown_record_kinds_are_skipped(tmp_path: Path) -> None:
    import struct
    import zlib

    body = zlib.compress(
        struct.pack(">BqBI", 9, 5, 1, 2) + b"k" + b"xx" + struct.pack(">BqBI", 1, 6, 1, 2) + b"k" + b"{}"
    )
    path = tmp_path / "kinds.rec"
    path.write_bytes(MAGIC + struct.pack(">II", len(body), zlib.crc32(body)) + body)
    assert list(read_recording(path)) == [Record(RecordKind.MESSAGE, 6, "k", b"{}")]


@pytest.mark.parametrize(
    ("text", "size"), [("5000", 5000), ("64k", 65536), ("100M", 100 * 2**20), ("1G", 2**30), ("1.5k", 1536)]
)
def test_parse_size(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "0", "-1k", "12q", "k"])
def test_parse_size_rejects(text: str) -> None:
    with pytest.raises(ConfigurationError):
        parse_size(text)


def test_the_python_example_of_docs_cli_md_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "cli.md").read_text()
    (example,) = re.findall(r"```python\n(.*?)```", doc, re.DOTALL)
    monkeypatch.chdir(tmp_path)
    exec(compile(example, "docs/cli.md", "exec"), {"print": lambda *args, **kw: None})
    (record,) = read_recording(tmp_path / "ticks.rec")
    assert record.message() == {"wsKey": "spotPublicV1", "table": "spot/ticker", "data": []}
