"""`brace logs`: the lines as written, as JSON, or one object per line; `--since`."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

from brace.server.paths import ServerPaths
from brace.store import Store
from tests.cli.conftest import data, deployment, expect_error, ok
from tests.conftest import Cli


def write_log(home: Path, store: Store) -> list[str]:
    """A development deployment whose log has brace's lines, a replica's records with a
    traceback, a print, and a line from an older log; an hour between the two halves."""
    found = deployment(store, "development")
    hour_ago = (datetime.now() - timedelta(hours=1)).astimezone()
    recent = (datetime.now() - timedelta(minutes=1)).astimezone()
    old, new = (t.isoformat(timespec="milliseconds") for t in (hour_ago, recent))
    lines = [
        "2020-01-02 03:04:05,678 INFO brace.runtime: from an older log",
        f"{old} [brace] starting replica r1 (revision 1)",
        f"{old} INFO [r1] brace.runtime: Model loaded in 3 ms (version 1)",
        f"{new} ERROR [r1] brace.runtime: predict failed",
        "Traceback (most recent call last):",
        "ValueError: bad input",
        "a print",
        f"{new} [brace] status ACTIVE",
    ]
    path = ServerPaths(home).deployment_log(found.id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return lines


def test_logs_as_text_json_and_jsonl(cli: Cli, hello: Path, home: Path, store: Store) -> None:
    ok(cli("push", hello))
    lines = write_log(home, store)
    assert ok(cli("logs", "development")).stdout == "\n".join(lines) + "\n"
    assert data(cli, "logs", "development") == {"logs": [{"message": m} for m in lines]}
    result = ok(cli("logs", "development", "-o", "jsonl"))
    records = [json.loads(text) for text in result.stdout.splitlines()]
    assert len(records) == len(lines)
    assert records[0]["time"] == datetime(2020, 1, 2, 3, 4, 5, 678000).astimezone().isoformat(
        timespec="milliseconds"
    )
    assert [(r["level"], r["replica"], r["message"]) for r in records[1:]] == [
        ("INFO", None, "[brace] starting replica r1 (revision 1)"),
        ("INFO", "r1", "brace.runtime: Model loaded in 3 ms (version 1)"),
        ("ERROR", "r1", "brace.runtime: predict failed"),
        (None, None, "Traceback (most recent call last):"),
        (None, None, "ValueError: bad input"),
        (None, None, "a print"),
        ("INFO", None, "[brace] status ACTIVE"),
    ]
    assert records[4]["time"] == records[3]["time"] == lines[3].split(" ")[0]
    for record in records:
        assert datetime.fromisoformat(record["time"]).tzinfo is not None


def test_since(cli: Cli, hello: Path, home: Path, store: Store) -> None:
    ok(cli("push", hello))
    lines = write_log(home, store)
    assert ok(cli("logs", "development", "--since", "10m")).stdout.splitlines() == lines[3:]
    assert ok(cli("logs", "development", "--since", "2h")).stdout.splitlines() == lines[1:]
    since = (datetime.now() - timedelta(minutes=30)).isoformat(timespec="seconds")
    jsonl = ok(cli("logs", "development", "--since", since, "-o", "jsonl")).stdout
    assert [json.loads(t)["message"] for t in jsonl.splitlines()][-1] == "[brace] status ACTIVE"
    assert len(jsonl.splitlines()) == 5
    expect_error(
        cli("logs", "development", "--since", "yesterday"),
        2,
        "--since: 'yesterday' is neither a duration (30s, 10m, 1h, 2d) nor an ISO 8601 time "
        "(2026-01-02T03:04:05)",
    )
