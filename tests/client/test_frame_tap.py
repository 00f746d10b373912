"""``frame_tap``: every frame as received, and recordings of raw frames that replay to the same updates."""

from __future__ import annotations

import json
import time
import zlib
from pathlib import Path

from bitmart_ws.recording import Record, Recorder, RecordKind, read_recording, updates
from bitmart_ws.simulator import Simulator

from .conftest import CREDS, make_client
from .conftest import Recorder as Events


async def test_recorded_frames_replay_to_the_updates_seen_live(
    sim: Simulator, rec: Events, tmp_path: Path
) -> None:
    path = tmp_path / "frames.bmr"
    frames: list[tuple[str, bool]] = []
    with Recorder(path) as recorder:

        def tap(ws_key: str, payload: bytes, binary: bool) -> None:
            frames.append((ws_key, binary))
            recorder.write_frame(ws_key, payload, binary, time.time_ns())

        client = make_client(sim, frame_tap=tap, **CREDS)
        rec.attach(client)
        async with client:
            await client.subscribe_topics(
                ["spot/ticker:BTC_USDT", "futures/ticker:BTCUSDT", "spot/user/order:BTC_USDT"]
            )
            await rec.wait(lambda: len(rec.of("update")) >= 20)
    live = rec.of("update")
    assert any(binary for _, binary in frames) and any(not binary for _, binary in frames)
    raw = list(read_recording(path))
    assert {r.kind for r in raw} == {RecordKind.TEXT_FRAME, RecordKind.BINARY_FRAME}
    assert len(raw) == len(frames) > len(live)  # acknowledgements, pongs and logins are frames too
    replayed = [r.message() for r in updates(raw)]
    assert replayed == live


def test_updates_decode_frames_with_the_clients_rules() -> None:
    push = {"table": "spot/ticker", "data": [{"symbol": "BTC_USDT"}]}
    deflate = zlib.compressobj(wbits=-15)
    binary = deflate.compress(json.dumps(push).encode()) + deflate.flush()
    records = [
        Record(
            RecordKind.TEXT_FRAME, 1, "spotPublicV1", b'{"event":"subscribe","topic":"spot/ticker:BTC_USDT"}'
        ),
        Record(RecordKind.BINARY_FRAME, 2, "spotPublicV1", binary),
        Record(RecordKind.TEXT_FRAME, 3, "spotPublicV1", b"pong"),
        Record(RecordKind.TEXT_FRAME, 4, "futuresPublicV2", b'{"group":"System","data":"pong+1"}'),
        Record(
            RecordKind.TEXT_FRAME,
            5,
            "futuresPublicV2",
            b'{"group":"futures/ticker","data":{"symbol":"BTCUSDT"}}',
        ),
        Record(RecordKind.BINARY_FRAME, 6, "spotPublicV1", b"not deflate"),
        Record(RecordKind.TEXT_FRAME, 7, "noSuchKey", b'{"table":"spot/ticker","data":[]}'),
    ]
    out = list(updates(records))
    assert [(r.received_ns, r.ws_key) for r in out] == [(2, "spotPublicV1"), (5, "futuresPublicV2")]
    assert out[0].message() == {**push, "wsKey": "spotPublicV1"}
    assert out[1].message()["group"] == "futures/ticker" and out[1].kind is RecordKind.MESSAGE
