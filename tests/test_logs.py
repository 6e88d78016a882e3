"""A deployment's log: brace's own lines, the last lines, and new lines as they come."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from brace.logs import DeploymentLog, LogTail, last_error, log_record, tail


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
