"""A deployment's log: brace's own lines, the last lines, and new lines as they come."""

from __future__ import annotations

import logging
import os
import re
import stat
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from brace.logs import (
    DeploymentLog,
    LogFilter,
    LogLines,
    LogTail,
    last_error,
    log_record,
    parse_line,
    parse_since,
    search,
    tail,
)
from brace.runtime.main import LogFormatter


def _append(path: Path, text: str) -> None:
    with path.open("a") as file:
        file.write(text)


def test_write_appends_a_stamped_line_readable_only_by_the_owner(tmp_path: Path) -> None:
    log = DeploymentLog(tmp_path / "d.log")
    log.write("starting replica abc (revision 1)")
    log.write("status ACTIVE")
    lines = log.path.read_text().splitlines()
    assert [line.split(" ", 1)[1] for line in lines] == [
        "[brace] starting replica abc (revision 1)",
        "[brace] status ACTIVE",
    ]
    assert stat.S_IMODE(os.stat(log.path).st_mode) == 0o600


@pytest.mark.parametrize(
    ("text", "count", "expected"),
    [
        pytest.param("", 3, [], id="empty"),
        pytest.param("a\nb\nc\n", 2, ["b", "c"], id="last-two"),
        pytest.param("a\nb\n", 5, ["a", "b"], id="fewer-than-asked"),
        pytest.param("a\nb", 1, ["b"], id="unfinished-last-line"),
        pytest.param("a\n", 0, [], id="none-asked"),
    ],
)
def test_tail(tmp_path: Path, text: str, count: int, expected: list[str]) -> None:
    path = tmp_path / "d.log"
    path.write_text(text)
    assert DeploymentLog(path).tail(count) == expected


def test_tail_of_a_large_log_reads_across_chunks(tmp_path: Path) -> None:
    path = tmp_path / "d.log"
    path.write_text("".join(f"line {n} " + "x" * 1000 + "\n" for n in range(500)))
    last = DeploymentLog(path).tail(100)
    assert len(last) == 100
    assert last[0].startswith("line 400 ") and last[-1].startswith("line 499 ")
    assert tail(path, 1).startswith("line 499 ")


def test_tail_of_a_missing_log_is_empty(tmp_path: Path) -> None:
    assert DeploymentLog(tmp_path / "missing.log").tail(5) == []
    assert tail(tmp_path / "missing.log") == ""


def test_tail_starts_at_the_end_and_returns_complete_lines(tmp_path: Path) -> None:
    log = tmp_path / "d.log"
    log.write_text("old line\n")
    tail = LogTail(lambda: log)
    assert tail.poll() == []
    _append(log, "one\ntw")
    assert tail.poll() == ["one"]
    _append(log, "o\r\nthree\n")
    assert tail.poll() == ["two", "three"]
    assert tail.poll() == []


def test_tail_waits_for_a_missing_file_and_reads_it_from_the_start(tmp_path: Path) -> None:
    log = tmp_path / "d.log"
    tail = LogTail(lambda: log)
    assert tail.poll() == []
    log.write_text("first\n")
    assert tail.poll() == ["first"]


def test_tail_starts_over_when_the_file_shrinks_or_changes(tmp_path: Path) -> None:
    log = tmp_path / "d.log"
    log.write_text("a long first line\n")
    current = [log]
    tail = LogTail(lambda: current[0])
    log.write_text("new\n")
    assert tail.poll() == ["new"]
    other = tmp_path / "other.log"
    other.write_text("x\n")
    current[0] = other
    assert tail.poll() == ["x"]


def test_tail_from_the_start_with_a_partial_last_line(tmp_path: Path) -> None:
    log = tmp_path / "d.log"
    log.write_text("one\ntwo")
    assert LogTail(lambda: log, from_start=True).poll(partial=True) == ["one", "two"]
    follow = LogTail(lambda: log, from_start=True)
    assert follow.poll() == ["one"]
    _append(log, "!\n")
    assert follow.poll() == ["two!"]


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        pytest.param(
            ["Traceback (most recent call last):", '  File "model.py"', "RuntimeError: gone"],
            "RuntimeError: gone",
            id="traceback",
        ),
        pytest.param(
            ["ValueError: first", "2026-01-02T03:04:05 [brace] replica r exited", "KeyError"],
            "KeyError",
            id="the-last-one",
        ),
        pytest.param(
            ["model.errors.LoadError: x", "done"], "model.errors.LoadError: x", id="dotted"
        ),
        pytest.param(["all fine", "Errors: none"], None, id="none"),
    ],
)
def test_last_error(lines: list[str], expected: str | None) -> None:
    assert last_error(lines) == expected


def test_log_record_times_stamped_lines_only() -> None:
    brace_line = log_record("2026-01-02T03:04:05 [brace] status ACTIVE")
    replica_line = log_record("2026-01-02 03:04:05,250 INFO brace.runtime: Model loaded")
    assert int(replica_line["timestamp"]) - int(brace_line["timestamp"]) == 250_000_000
    assert log_record("a print")["timestamp"] == ""


def test_log_record_names_the_replica_of_a_record() -> None:
    record = log_record("2026-01-02T03:04:05.678+01:00 INFO [r1b2] brace.runtime: Model loaded")
    assert record["replica"] == "r1b2"
    assert record["timestamp"] == str(
        round(datetime(2026, 1, 2, 2, 4, 5, 678000, tzinfo=UTC).timestamp() * 1000) * 1_000_000
    )
    assert log_record("2026-01-02T03:04:05.678+01:00 [brace] status ACTIVE")["replica"] is None


PLUS_ONE = timezone(timedelta(hours=1))
AT = datetime(2026, 1, 2, 3, 4, 5, 678000)  # in no zone yet
EARLIER = datetime(2026, 1, 2, 3, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        pytest.param(
            "2026-01-02T03:04:05.678+01:00 [brace] status ACTIVE",
            (AT.replace(tzinfo=PLUS_ONE), "INFO", None, "[brace] status ACTIVE"),
            id="brace",
        ),
        pytest.param(
            "2026-01-02T03:04:05.678Z WARNING [r1b2c3d4] brace.runtime: slow",
            (AT.replace(tzinfo=UTC), "WARNING", "r1b2c3d4", "brace.runtime: slow"),
            id="replica-record",
        ),
        pytest.param(
            "2026-01-02T03:04:05.678+01:00 ERROR uvicorn.error: boom",
            (AT.replace(tzinfo=PLUS_ONE), "ERROR", None, "uvicorn.error: boom"),
            id="record-without-a-replica",
        ),
        pytest.param(
            "2026-01-02 03:04:05,678 INFO brace.runtime: Model loaded",
            (AT.astimezone(), "INFO", None, "brace.runtime: Model loaded"),
            id="older-record-in-local-time",
        ),
        pytest.param(
            "2026-01-02T03:04:05 [brace] status ACTIVE",
            (AT.replace(microsecond=0).astimezone(), "INFO", None, "[brace] status ACTIVE"),
            id="older-brace-line",
        ),
        pytest.param(
            "hello from load()",
            (EARLIER, None, None, "hello from load()"),
            id="a-print-has-the-time-before-it",
        ),
        pytest.param(
            "2026-13-02T03:04:05.678+01:00 [brace] no such month",
            (EARLIER, None, None, "2026-13-02T03:04:05.678+01:00 [brace] no such month"),
            id="not-a-date",
        ),
    ],
)
def test_parse_line(line: str, expected: tuple[datetime, str | None, str | None, str]) -> None:
    parsed = parse_line(line, EARLIER)
    assert (parsed.time, parsed.level, parsed.replica, parsed.message) == expected
    assert parsed.time is not None and parsed.time.tzinfo is not None


def test_lines_without_a_stamp_follow_the_one_before() -> None:
    lines = LogLines()
    first = lines.read("a print before any record")
    record = lines.read("2026-01-02T03:04:05.678+01:00 ERROR [r1] brace.runtime: failed")
    traceback = lines.read("ValueError: bad")
    assert first.to_json() == {
        "time": None,
        "level": None,
        "replica": None,
        "message": "a print before any record",
    }
    assert record.to_json()["time"] == "2026-01-02T03:04:05.678+01:00"
    assert traceback.to_json() == {
        "time": "2026-01-02T03:04:05.678+01:00",
        "level": None,
        "replica": None,
        "message": "ValueError: bad",
    }


def test_brace_and_the_replica_stamp_lines_alike(tmp_path: Path) -> None:
    log = DeploymentLog(tmp_path / "d.log")
    log.write("status ACTIVE")
    record = logging.LogRecord("brace.runtime", logging.INFO, "", 0, "Model loaded", (), None)
    replica_line = LogFormatter("r1b2c3d4").format(record)
    brace_line = log.path.read_text().splitlines()[0]
    stamp = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d ")
    assert stamp.match(brace_line) and stamp.match(replica_line), (brace_line, replica_line)
    parsed = parse_line(replica_line)
    assert (parsed.level, parsed.replica, parsed.message) == (
        "INFO",
        "r1b2c3d4",
        "brace.runtime: Model loaded",
    )
    assert parsed.time is not None
    assert -1e-6 < record.created - parsed.time.timestamp() < 0.001  # milliseconds, cut
    assert parse_line(brace_line).message == "[brace] status ACTIVE"


def test_a_remote_replicas_records_name_its_node() -> None:
    """A replica on a Ray node is tagged `replica@node` (backends.agent): both read."""
    record = logging.LogRecord("brace.runtime", logging.INFO, "", 0, "Model loaded", (), None)
    parsed = parse_line(LogFormatter("r1b2c3d4@10.0.0.2").format(record))
    assert (parsed.replica, parsed.node, parsed.message) == (
        "r1b2c3d4",
        "10.0.0.2",
        "brace.runtime: Model loaded",
    )
    assert parsed.to_json()["node"] == "10.0.0.2"
    local = parse_line(LogFormatter("r1b2c3d4").format(record))
    assert local.node is None and "node" not in local.to_json()


NOW = datetime(2026, 1, 2, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("90s", NOW - timedelta(seconds=90), id="seconds"),
        pytest.param("10m", NOW - timedelta(minutes=10), id="minutes"),
        pytest.param("1.5h", NOW - timedelta(minutes=90), id="hours"),
        pytest.param(" 2d ", NOW - timedelta(days=2), id="days"),
        pytest.param(
            "2026-01-02T11:30:00+01:00",
            datetime(2026, 1, 2, 10, 30, tzinfo=UTC),
            id="time-with-zone",
        ),
        pytest.param(
            "2026-01-02T11:30", datetime(2026, 1, 2, 11, 30).astimezone(), id="local-time"
        ),
    ],
)
def test_parse_since(text: str, expected: datetime) -> None:
    assert parse_since(text, NOW) == expected


@pytest.mark.parametrize("text", ["", "10", "10 minutes", "-5m", "yesterday", "2026-01-32"])
def test_parse_since_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="neither a duration"):
        parse_since(text, NOW)


# search: what `POST .../logs` answers


def _long_log(path: Path, count: int) -> list[tuple[int, str]]:
    """`count` records a second apart from 2026-01-02T00:00:00Z, every tenth followed
    by an unstamped line (a print); (epoch ms, line) of each stamped one."""
    start = 1767312000000
    written = []
    with path.open("w") as file:
        for i in range(count):
            moment = start + i * 1000
            stamp = datetime.fromtimestamp(moment / 1000, UTC).isoformat(timespec="milliseconds")
            line = f"{stamp} INFO [r-{i % 3}] model.model: record {i}"
            file.write(line + "\n")
            written.append((moment, line))
            if i % 10 == 0:
                file.write(f"print after {i}\n")
    return written


@pytest.mark.parametrize("offset", [0, 1, 3999, 4000, 4001, 5000, 9999, 10_000, 20_000])
def test_a_search_from_a_time_finds_what_a_full_read_finds(tmp_path: Path, offset: int) -> None:
    path = tmp_path / "d.log"
    written = _long_log(path, 10_000)  # ~650 KB: the bisection runs
    start = written[0][0] + offset * 1000
    found = search(path, LogFilter(start_ms=start, excludes=("print",)), 100_000)
    expected = [line for moment, line in written if moment >= start]
    assert [r["message"] for r in found] == expected[::-1]
    with_prints = search(path, LogFilter(start_ms=start), 100_000)
    assert len(with_prints) == len(expected) + sum(
        1 for i in range(10_000) if i % 10 == 0 and written[i][0] >= start
    )


def test_a_record_made_for_a_request_names_it_and_reads_back() -> None:
    from brace.runtime.requestid import REQUEST_ID

    record = logging.LogRecord("model.model", logging.WARNING, __file__, 1, "slow", (), None)
    formatter = LogFormatter("r-one")
    assert " WARNING [r-one] model.model: slow" in formatter.format(record)
    token = REQUEST_ID.set("0f3a9c")
    try:
        line = formatter.format(record)
    finally:
        REQUEST_ID.reset(token)
    assert " WARNING [r-one] [request_id=0f3a9c] model.model: slow" in line
    parsed = parse_line(line)
    assert (parsed.level, parsed.replica, parsed.request_id, parsed.message) == (
        "WARNING",
        "r-one",
        "0f3a9c",
        "model.model: slow",
    )
