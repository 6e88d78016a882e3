"""Following the deployment log: complete new lines only, and no echo of reload records."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from brace.devserver.logtail import LogFollower, ReloadRecords


def _append(path: Path, text: str) -> None:
    with path.open("a") as file:
        file.write(text)


RECORD = "2026-01-02T03:04:05.678+01:00 {level} [r1b2c3d4] brace.runtime: {message}"
OLD_RECORD = "2026-01-02 03:04:05,678 {level} brace.runtime: {message}"  # older logs


@pytest.mark.parametrize(
    ("lines", "kept"),
    [
        pytest.param(
            [
                RECORD.format(level="INFO", message="Model loaded in 3 ms (version 1)"),
                "hello from load()",
            ],
            [0, 1],
            id="ordinary-lines",
        ),
        pytest.param(
            [
                RECORD.format(level="INFO", message="Reloaded in 15 ms (version 2, class-swap)"),
                RECORD.format(level="INFO", message="Reload: nothing changed since version 2"),
                "a print",
            ],
            [2],
            id="reload-records",
        ),
        pytest.param(
            [
                RECORD.format(level="ERROR", message="Reload failed (import): SyntaxError: x"),
                '  File "/m/model/model.py", line 15',
                "    return {",
                "           ^",
                "SyntaxError: '{' was never closed",
                "  an indented print after the traceback",
                "a print",
            ],
            [5, 6],
            id="failed-reload-and-its-traceback",
        ),
        pytest.param(
            [
                RECORD.format(level="ERROR", message="Reload failed (load): ValueError: bad"),
                "Traceback (most recent call last):",
                '  File "/m/model/model.py", line 9, in load',
                "ValueError: bad",
                RECORD.format(level="INFO", message="Model loaded"),
            ],
            [4],
            id="traceback-then-record",
        ),
        pytest.param(
            [
                RECORD.format(level="ERROR", message="Reload failed (import): oops"),
                "the user's own print",
            ],
            [1],
            id="not-a-traceback-line",
        ),
        pytest.param(
            [
                "2026-01-02T03:04:05.123+01:00 [brace] starting replica abc (revision 2)",
                "2026-01-02T03:04:05.456+01:00 [brace] status ACTIVE",
            ],
            [0, 1],
            id="controller-lines",
        ),
        pytest.param(
            [
                RECORD.replace("[r1b2c3d4] ", "").format(level="INFO", message="Reloaded in 3 ms"),
                OLD_RECORD.format(level="INFO", message="Reloaded in 15 ms (version 2)"),
                OLD_RECORD.format(level="ERROR", message="Reload failed (import): oops"),
                "SyntaxError: x",
                "2026-01-02T03:04:05 [brace] status ACTIVE",
            ],
            [4],
            id="records-without-a-replica-id-and-older-logs",
        ),
    ],
)
def test_reload_records_are_left_out(lines: list[str], kept: list[int]) -> None:
    records = ReloadRecords()
    assert [i for i, line in enumerate(lines) if records.keep(line)] == kept


def test_follower_relays_lines_until_closed(tmp_path: Path) -> None:
    log = tmp_path / "d.log"
    log.write_text("")
    seen: list[str] = []
    arrived = threading.Event()

    def on_line(line: str) -> None:
        seen.append(line)
        arrived.set()

    with LogFollower(lambda: log, on_line, interval=0.01):
        _append(log, "one\n")
        assert arrived.wait(10)
        _append(log, "two\n")  # written just before closing: still relayed
    assert seen == ["one", "two"]


def test_drain_relays_what_was_written_at_once_and_only_once(tmp_path: Path) -> None:
    log = tmp_path / "deployment.log"
    log.write_text("old line\n")
    relayed: list[str] = []
    follower = LogFollower(lambda: log, relayed.append, interval=60)  # the thread sleeps
    with follower:
        _append(log, "Traceback (most recent call last):\nValueError: no weights\n")
        follower.drain()
        assert relayed == ["Traceback (most recent call last):", "ValueError: no weights"]
        follower.drain()
        _append(log, "after\n")
    assert relayed[-1] == "after" and len(relayed) == 3  # the last read when closing
