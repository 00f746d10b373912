"""The defects of the command line a new user met, each reproduced with the real ``bitmart-ws``."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from bitmart_ws.cli._console import Failures
from bitmart_ws.protocol import CHANNELS, parse_topic
from bitmart_ws.recording import MAGIC, Recorder, read_recording
from bitmart_ws.simulator import DEFAULT_ACCOUNT

from .conftest import clean_env, free_port, no_traceback, read_lines, run, start, wait_for

ROOT = Path(__file__).resolve().parents[2]
TICKERS = ("spot/ticker:BTC_USDT", "futures/ticker:BTCUSDT")


# -- 1. a closed stdout ends the command quietly ------------------------------------------------------


def test_stream_into_a_closed_pipe_ends_quietly_with_status_0() -> None:
    proc = start("stream", *TICKERS)
    assert proc.stdout is not None and proc.stderr is not None
    json.loads(read_lines(proc.stdout, 1)[0])
    proc.stdout.close()  # `| head -1` exits
    with proc:
        err = proc.stderr.read()
    assert proc.returncode == 0, err
    no_traceback(err)


def test_replay_into_a_closed_pipe_ends_quietly_with_status_0(tmp_path: Path) -> None:
    path = tmp_path / "many.rec"
    with Recorder(path) as recorder:
        for i in range(20000):
            recorder.write("spotPublicV1", b'{"i":%d}' % i, i)
    proc = start("replay", str(path))
    assert proc.stdout is not None and proc.stderr is not None
    assert read_lines(proc.stdout, 1) == ['{"i":0}\n']
    proc.stdout.close()
    with proc:
        err = proc.stderr.read()
    assert proc.returncode == 0, err
    no_traceback(err)


# -- 2, 3, 6, 7. usage and configuration errors: one clear line, status 2 -----------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--record", "{tmp}/missing/x.rec"], "folder {tmp}/missing does not exist"),
        (["--record", "{tmp}"], "it is a directory"),
    ],
)
def test_a_bad_record_destination_is_one_line_and_status_2(
    tmp_path: Path, args: list[str], expected: str
) -> None:
    result = run("stream", "spot/ticker:BTC_USDT", *(a.format(tmp=tmp_path) for a in args))
    assert result.code == 2
    assert result.err.splitlines() == [
        f"bitmart-ws: cannot record to {args[1].format(tmp=tmp_path)}: " + expected.format(tmp=tmp_path)
    ]
    assert result.out == ""


def test_record_command_checks_its_destination_too(tmp_path: Path) -> None:
    result = run("record", "spot/ticker:BTC_USDT", "--out", str(tmp_path / "no" / "x.rec"))
    assert (result.code, result.err.count("\n")) == (2, 1), result.err
    assert "does not exist" in result.err


@pytest.mark.parametrize(
    ("urls", "expected"),
    [
        ("[1,2]", "expected a JSON object of URLs per key"),
        ('"x"', "expected a JSON object of URLs per key"),
        ("{}", "the URL map is empty"),
        ("null", "not null"),
        ("{nope", "not JSON"),
        ('{"spotPublic": "ws://127.0.0.1:1/api"}', "unknown key 'spotPublic'"),
        ('{"spotPublicV1": "http://127.0.0.1:1/api"}', "must start with ws:// or wss://"),
    ],
)
def test_bad_urls_are_usage_errors_never_live(urls: str, expected: str) -> None:
    result = run("stream", "--urls", urls, "spot/ticker:BTC_USDT")
    assert result.code == 2
    assert result.err.splitlines()[-1].startswith("bitmart-ws stream: error: argument --urls: ")
    assert expected in result.err
    no_traceback(result.err)
    assert result.out == ""


@pytest.mark.parametrize(
    "args",
    [
        ["stream", "spot/ticker:BTC_USDT", "--seconds", "0"],
        ["stream", "spot/ticker:BTC_USDT", "--seconds", "-1"],
        ["stream", "spot/ticker:BTC_USDT", "--seconds", "nan"],
        ["stream", "spot/ticker:BTC_USDT", "--count", "0"],
        ["record", "spot/ticker:BTC_USDT", "--out", "{tmp}/x.rec", "--seconds", "-5"],
        ["record", "spot/ticker:BTC_USDT", "--out", "{tmp}/x.rec", "--count", "-1"],
        ["record", "spot/ticker:BTC_USDT", "--out", "{tmp}/x.rec", "--rotate-size", "0"],
    ],
)
def test_limits_must_be_positive(args: list[str], tmp_path: Path) -> None:
    result = run(*(a.format(tmp=tmp_path) for a in args))
    assert result.code == 2
    assert "must be > 0" in result.err or "not a positive size" in result.err
    assert not (tmp_path / "x.rec").exists()


def test_simulate_on_a_port_in_use_is_one_line_and_status_2() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run("simulate", "--spot-port", str(port))
    assert result.code == 2
    assert len(result.err.splitlines()) == 1 and "address already in use" in result.err, result.err
    assert result.out == ""


def test_simulate_on_an_address_it_cannot_bind_is_one_line_and_status_2() -> None:
    result = run("simulate", "--host", "192.0.2.1")  # TEST-NET-1: never a local address
    assert result.code == 2
    assert result.err.splitlines() == [result.err.strip()] and "cannot serve on 192.0.2.1" in result.err


def test_credential_errors_name_the_environment_variables() -> None:
    urls = json.dumps({"spotPrivateV1": f"ws://127.0.0.1:{free_port()}/user"})
    result = run("stream", "--urls", urls, "spot/user/order:BTC_USDT")
    assert result.code == 2
    assert "BITMART_API_KEY, BITMART_API_SECRET, BITMART_API_MEMO" in result.err
    assert "api_key" not in result.err
    partial = run("stream", "--urls", urls, "spot/user/order:BTC_USDT", env=clean_env(BITMART_API_KEY="k"))
    assert partial.code == 2
    assert partial.err.startswith("bitmart-ws: BITMART_API_SECRET and BITMART_API_MEMO not set")


def test_help_documents_exit_codes_and_credential_variables() -> None:
    result = run("--help")
    assert result.code == 0
    for fragment in (
        "130",
        "usage or configuration",
        "BITMART_API_KEY",
        "BITMART_API_SECRET",
        "BITMART_API_MEMO",
    ):
        assert fragment in result.out
    assert "130" in run("stream", "--help").out


# -- 7. -v anywhere, --version, python -m bitmart_ws ---------------------------------------------------


@pytest.mark.parametrize("where", ["before", "after"])
def test_verbose_works_before_or_after_the_command(where: str) -> None:
    args = ["stream", "spot/ticker:BTC_USDT", "--count", "1"]
    result = run(*(["-v", *args] if where == "before" else [*args, "-v"]))
    assert result.code == 0, result.err
    assert "spotPublicV1: open ws://127.0.0.1:" in result.err
    assert "open ws://" not in run(*args).err


def test_version_and_python_dash_m() -> None:
    result = run("--version")
    assert (result.code, result.out.strip()) == (0, "bitmart-ws 0.1.0")
    module = subprocess.run(
        [sys.executable, "-m", "bitmart_ws", "stream", "spot/ticker:BTC_USDT", "--count", "2"],
        capture_output=True,
        text=True,
        timeout=40,
        check=False,
        env=clean_env(),
    )
    assert module.returncode == 0, module.stderr
    assert [m["table"] for m in map(json.loads, module.stdout.splitlines())] == ["spot/ticker"] * 2
    assert (
        "usage: bitmart-ws"
        in subprocess.run(
            [sys.executable, "-m", "bitmart_ws", "--help"],
            capture_output=True,
            text=True,
            timeout=40,
            check=False,
        ).stdout
    )


# -- 4. SIGTERM is Ctrl-C; a recording keeps every printed message -------------------------------------


def test_sigterm_ends_stream_like_ctrl_c_and_the_recording_has_every_printed_message(tmp_path: Path) -> None:
    path = tmp_path / "term.rec"
    proc = start("stream", *TICKERS, "--record", str(path))
    assert proc.stdout is not None
    printed = read_lines(proc.stdout, 6)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=20)
    printed += out.splitlines(keepends=True)
    assert proc.returncode == 130, err
    no_traceback(err)
    replayed = run("replay", str(path))
    assert replayed.code == 0, replayed.err
    assert replayed.out.splitlines() == [line.rstrip("\n") for line in printed]


def test_sigint_is_status_130_too() -> None:
    proc = start("stream", "spot/ticker:BTC_USDT")
    assert proc.stdout is not None
    read_lines(proc.stdout, 1)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 130
    no_traceback(err)


def test_a_printed_message_is_on_disk_within_a_second_even_under_sigkill(tmp_path: Path) -> None:
    path = tmp_path / "kill.rec"
    proc = start("stream", *TICKERS, "--record", str(path))
    assert proc.stdout is not None
    printed = [json.loads(line) for line in read_lines(proc.stdout, 8)]
    took = wait_for(
        lambda: len(list(read_recording(path, lambda damage: None))) >= len(printed), 5.0, "the recording"
    )
    assert took < 1.5  # flushed and fsynced every 0.5 s (margin for a loaded machine)
    proc.kill()
    proc.communicate(timeout=20)
    replayed = run("replay", str(path)).json_lines()
    assert replayed[: len(printed)] == printed


def _blocks(data: bytes) -> list[tuple[int, int]]:
    """(end offset, record count) of each complete block of a recording file, read from the layout."""
    blocks, pos = [], len(MAGIC)
    while pos + 8 <= len(data):
        length = struct.unpack(">I", data[pos : pos + 4])[0]
        if pos + 8 + length > len(data):
            break
        body, count, at = zlib.decompress(data[pos + 8 : pos + 8 + length]), 0, 0
        while at < len(body):
            _, _, key_len, payload_len = struct.unpack_from(">BqBI", body, at)
            at += 14 + key_len + payload_len
            count += 1
        pos += 8 + length
        blocks.append((pos, count))
    return blocks


def test_record_killed_mid_write_replays_every_complete_block_and_reports_the_tail(tmp_path: Path) -> None:
    path = tmp_path / "crash.rec"
    second = tmp_path / "crash.rec.1"
    proc = start("record", *TICKERS, "--out", str(path), "--rotate-size", "3k")
    wait_for(
        lambda: second.exists() and len(_blocks(second.read_bytes())) >= 2, 30.0, "blocks in crash.rec.1"
    )
    proc.kill()
    proc.communicate(timeout=20)
    whole = run("replay", str(path))
    assert whole.code == 0, whole.err
    # a power loss in the middle of writing: the last block on disk is cut short
    files = [path, *sorted(tmp_path.glob("crash.rec.*"), key=lambda p: int(p.suffix[1:]))]
    last = [p for p in files if _blocks(p.read_bytes())][-1]
    assert all(p.stat().st_size == len(MAGIC) for p in files[files.index(last) + 1 :])
    blocks = _blocks(last.read_bytes())
    last.write_bytes(last.read_bytes()[: blocks[-1][0] - 5])
    cut = run("replay", str(path))
    assert cut.code == 1
    lines = whole.out.splitlines()
    assert cut.out.splitlines() == lines[: len(lines) - blocks[-1][1]]
    start_of_last = blocks[-2][0] if len(blocks) > 1 else len(MAGIC)
    assert f"{last}: truncated block" in cut.err and f"at byte {start_of_last};" in cut.err, cut.err
    no_traceback(cut.err)


# -- 5, 6. a dead URL: summarised failures, rounded delays, --seconds is a deadline from the start ----


def test_a_dead_url_is_summarised_and_seconds_is_a_deadline_from_the_start() -> None:
    url = f"ws://127.0.0.1:{free_port()}/api"
    result = run(
        "stream", "--urls", json.dumps({"spotPublicV1": url}), "spot/ticker:BTC_USDT", "--seconds", "4"
    )
    assert result.code == 1
    assert result.elapsed < 8.0  # not 10 s of acknowledgement wait on top
    no_traceback(result.err)
    mentions = [line for line in result.err.splitlines() if url in line]
    assert 1 <= len(mentions) <= 3, result.err
    assert mentions[0].startswith(f"bitmart-ws: spotPublicV1: cannot connect to {url}")
    assert re.search(r"retrying in \d+\.\d s$", mentions[0])
    final = re.search(r"still failing \((\d+) attempts\)", mentions[-1])
    assert final and int(final[1]) >= 2, result.err
    assert not re.search(r"\d\.\d{2,}", result.err)  # delays rounded


def test_failures_summary_is_pure_and_rate_limited() -> None:
    failures = Failures(every=5.0)
    assert failures.failed("k", "refused", 0.0, 0.74) == "k: refused; retrying in 0.7 s"
    assert failures.failed("k", "refused", 1.0, 1.5) is None
    assert failures.failed("k", "refused", 4.9, 3.0) is None
    assert (
        failures.failed("k", "reset", 5.0, 3.14159)
        == "k: still failing (4 attempts): reset; retrying in 3.1 s"
    )
    assert failures.failing() == ["k: still failing (4 attempts): reset"]
    assert failures.recovered("k") == "k: back after 4 failed attempt(s)"
    assert failures.recovered("k") is None and failures.failing() == []


# -- 9, 10. rejected topics and typos never stop the accepted topics ----------------------------------


def test_rejected_and_misspelt_topics_are_reported_and_the_others_keep_streaming(
    simulator: dict[str, str],
) -> None:
    result = run(
        "stream",
        "--urls",
        json.dumps(simulator),
        *TICKERS,
        "spot/ticker:NOPE_USDT",
        "spot/tickr:BTC_USDT",
        "futures/ticker:NOPEUSDT",
        "--count",
        "30",
    )
    assert result.code == 1
    channels = [m.get("table") or m.get("group") for m in result.json_lines()]
    assert len(channels) == 30
    assert "spot/ticker" in channels
    assert any(str(c).startswith("futures/ticker:BTCUSDT") for c in channels), channels
    err = result.err
    assert "unknown channel spot/tickr in spot/tickr:BTC_USDT; did you mean spot/ticker?" in err
    assert "spot/ticker:NOPE_USDT rejected by the server: [92001]" in err
    assert "spot/tickr:BTC_USDT rejected by the server: [90004]" in err
    assert "futures/ticker:NOPEUSDT rejected by the server" in err
    assert err.splitlines()[-1] == (
        "bitmart-ws: 3 topic(s) rejected: spot/ticker:NOPE_USDT, spot/tickr:BTC_USDT, futures/ticker:NOPEUSDT"
    )
    no_traceback(err)


def test_private_topics_from_a_separate_simulator_with_credentials_from_the_environment(
    simulator: dict[str, str],
) -> None:
    env = clean_env(
        BITMART_API_KEY=DEFAULT_ACCOUNT.api_key,
        BITMART_API_SECRET=DEFAULT_ACCOUNT.api_secret,
        BITMART_API_MEMO=DEFAULT_ACCOUNT.api_memo,
    )
    result = run(
        "stream",
        "--urls",
        json.dumps(simulator),
        "futures/position",
        "spot/ticker:BTC_USDT",
        "--count",
        "5",
        env=env,
    )
    assert result.code == 0, result.err
    assert len(result.json_lines()) == 5
    assert DEFAULT_ACCOUNT.api_secret not in result.err + result.out


# -- stream options, status line, channels, make demo -------------------------------------------------


def test_the_simulator_default_is_said_on_stderr_and_pretty_format_indents() -> None:
    result = run(
        "stream",
        "spot/ticker:BTC_USDT",
        "--count",
        "1",
        "--format",
        "pretty",
        "--symbols",
        "SOL_USDT,BTC_USDT",
    )
    assert result.code == 0, result.err
    assert "embedded simulator" in result.err
    assert result.out.startswith("{\n  ") and json.loads(result.out)["table"] == "spot/ticker"
    explicit = run("stream", "spot/ticker:SOL_USDT", "--count", "1", "--simulator", "--symbols", "SOL_USDT")
    assert explicit.code == 0 and "embedded simulator" not in explicit.err, explicit.err
    assert explicit.json_lines()[0]["data"][0]["symbol"] == "SOL_USDT"


def test_status_line_only_on_a_terminal() -> None:
    master, slave = os.openpty()
    try:
        proc = start("stream", *TICKERS, "--seconds", "2", stderr=slave)
        os.close(slave)
        out, _ = proc.communicate(timeout=30)
        chunks = []
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(master)
    err = b"".join(chunks).decode()
    assert proc.returncode == 0
    assert re.search(
        r"\r\x1b\[K\d connection\(s\) live, \d+\.\d msg/s, \d+ messages, 0 reconnect\(s\)", err
    ), err
    assert out.count("\n") >= 2
    piped = run("stream", *TICKERS, "--seconds", "1")
    assert "msg/s" not in piped.err and "\r" not in piped.err


def test_channels_lists_the_registry_one_line_each_with_valid_examples() -> None:
    result = run("channels")
    assert result.code == 0
    header, *rows = result.out.splitlines()
    assert header.split() == ["CHANNEL", "MARKET", "ACCESS", "ARGUMENT", "EXAMPLE"]
    assert [row.split()[0] for row in rows] == list(CHANNELS)
    for row in rows:
        name, market, access, _form, example = row.split()
        topic = parse_topic(example)
        spec = CHANNELS[name]
        assert (topic.channel, market, access == "private") == (name, spec.market.value, spec.is_private)
    assert any(row.startswith("spot/kline1H ") for row in rows)
    assert any(row.startswith("futures/klineBin1W ") for row in rows)


@pytest.mark.timeout(600)
def test_make_demo_on_a_fresh_clone_prints_only_json_lines(tmp_path: Path) -> None:
    fresh = tmp_path / "clone"
    fresh.mkdir()
    for name in ("Makefile", "pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, fresh / name)
    shutil.copytree(ROOT / "src", fresh / "src", ignore=shutil.ignore_patterns("*.egg-info", "__pycache__"))
    # a user's shell: not a make run from `make test` (a sub-make prints "Entering directory" itself)
    user_env = {k: v for k, v in clean_env().items() if k not in ("MAKELEVEL", "MAKEFLAGS", "MFLAGS")}
    done = subprocess.run(
        ["make", "demo"], cwd=fresh, capture_output=True, text=True, timeout=550, check=False, env=user_env
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert (fresh / ".venv" / ".installed").exists()  # the install really ran
    lines = done.stdout.splitlines()
    assert lines and all(isinstance(json.loads(line), dict) for line in lines), done.stdout[:500]
