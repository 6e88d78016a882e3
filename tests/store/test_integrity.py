"""The state file is created whole or refused when damaged; it is never silently replaced.

Table tests for the decisions (integrity.py), then real files: a new home, a 0-byte
file, a file that is not SQLite, another program's database, a damaged page, and SQLite
errors from the disk.
"""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
from pathlib import Path

import pytest

from brace.errors import ExitCode, StateError
from brace.files import EntryKind
from brace.store import Store
from brace.store.db import DB_FILE
from brace.store.integrity import (
    SQLITE_HEADER,
    Damage,
    environment_error,
    judge_file,
    judge_schema,
    tables_at,
)
from brace.store.schema import SCHEMA_VERSION
from tests.store import workers

ALL_TABLES = set(tables_at(SCHEMA_VERSION))


@pytest.mark.parametrize(
    ("kind", "size", "header", "damage"),
    [
        pytest.param(EntryKind.FILE, 4096, SQLITE_HEADER + b"\x10", None, id="sqlite"),
        pytest.param(EntryKind.FILE, 0, b"", Damage.EMPTY, id="empty"),
        pytest.param(EntryKind.FILE, 10, b"model_name", Damage.NOT_SQLITE, id="text"),
        pytest.param(EntryKind.DIRECTORY, 4096, b"", Damage.NOT_A_FILE, id="directory"),
        pytest.param(EntryKind.FIFO, 0, b"", Damage.NOT_A_FILE, id="fifo"),
    ],
)
def test_judge_file(kind: EntryKind, size: int, header: bytes, damage: Damage | None) -> None:
    assert judge_file(kind, size, header) is damage


@pytest.mark.parametrize(
    ("version", "tables", "check", "damage"),
    [
        pytest.param(SCHEMA_VERSION, ALL_TABLES, ["ok"], None, id="whole"),
        pytest.param(1, set(tables_at(1)), ["ok"], None, id="older-schema"),
        pytest.param(99, ALL_TABLES | {"later"}, ["ok"], None, id="newer-schema"),
        pytest.param(0, set(), ["ok"], Damage.NOT_BRACE, id="not-brace"),
        pytest.param(0, {"notes"}, ["ok"], Damage.NOT_BRACE, id="another-program"),
        pytest.param(
            SCHEMA_VERSION, ALL_TABLES - {"models"}, ["ok"], Damage.CORRUPT, id="missing-table"
        ),
        pytest.param(
            SCHEMA_VERSION,
            ALL_TABLES,
            ["*** in database main ***", "Page 3: btreeInitPage() returns error code 11"],
            Damage.CORRUPT,
            id="quick-check-fails",
        ),
    ],
)
def test_judge_schema(version: int, tables: set[str], check: list[str], damage: Damage) -> None:
    assert judge_schema(version, tables, check) is damage


def sqlite_error(code: int, message: str) -> sqlite3.Error:
    """A sqlite3 error carrying SQLite's result `code`, as SQLite would raise it."""
    error = sqlite3.OperationalError(message)
    error.sqlite_errorcode = code  # type: ignore[attr-defined]
    return error


@pytest.mark.parametrize(
    ("code", "disk_full", "message"),
    [
        pytest.param(13, False, "the disk is full (database or disk is full)", id="full"),
        pytest.param(10, True, "the disk is full (disk I/O error)", id="io-on-a-full-disk"),
        pytest.param(14, True, "the disk is full (disk I/O error)", id="cantopen-on-full"),
        pytest.param(10, False, "cannot read or write the state file (disk I/O error)", id="io"),
        pytest.param(11, False, "the state file is damaged: disk I/O error", id="corrupt"),
        pytest.param(8, False, "cannot write the state file (disk I/O error)", id="readonly"),
    ],
)
def test_environment_error(code: int, disk_full: bool, message: str, tmp_path: Path) -> None:
    path = tmp_path / DB_FILE
    text = "database or disk is full" if code == 13 else "disk I/O error"
    error = environment_error(path, sqlite_error(code, text), lambda p: disk_full)
    assert error is not None
    assert error.message == f"{path}: {message}"
    assert error.exit_code == ExitCode.ERROR


@pytest.mark.parametrize(
    "code",
    [
        pytest.param(5, id="busy"),
        pytest.param(19, id="constraint"),
        pytest.param(1, id="sql-error"),
    ],
)
def test_other_sqlite_errors_stay_what_they_are(code: int, tmp_path: Path) -> None:
    assert environment_error(tmp_path / DB_FILE, sqlite_error(code, "x"), lambda p: True) is None


# Real files


def test_a_new_home_gets_a_complete_file_and_no_leftovers(home: Path) -> None:
    with Store(home) as store, store.transaction() as tx:
        tx.insert_model("kept")

    assert sorted(p.name for p in home.iterdir() if not p.name.startswith("brace.db")) == []
    with sqlite3.connect(home / DB_FILE) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_many_processes_creating_one_home_all_see_one_store(home: Path) -> None:
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    barrier = context.Barrier(8)
    jobs = [
        context.Process(
            target=workers.run, args=(results, barrier, workers.open_and_write, str(home))
        )
        for _ in range(8)
    ]
    for job in jobs:
        job.start()
    try:
        outcomes = [results.get(timeout=60) for _ in jobs]
    finally:
        for job in jobs:
            job.join(timeout=60)
            if job.is_alive():
                job.kill()
                job.join()
    assert outcomes == ["ok"] * 8
    with Store(home) as store, store.read() as tx:
        assert len(tx.models()) == 8


def refused_message(path: Path, what: str) -> str:
    return f"{path}: the state file {what}"


def assert_refused(home: Path, what: str) -> StateError:
    path = home / DB_FILE
    before = path.read_bytes()
    with pytest.raises(StateError) as caught:
        Store(home)
    assert caught.value.message == refused_message(path, what)
    assert caught.value.hint == (
        "brace leaves it as it is. Restore it from a backup if you have one; to start "
        f"over without your models and deployments, move it away (mv {path} {path}.bad)."
    )
    assert path.read_bytes() == before  # never overwritten
    return caught.value


def test_an_empty_state_file_is_refused_not_started_over(home: Path) -> None:
    home.mkdir(mode=0o700)
    (home / DB_FILE).touch(mode=0o600)

    assert_refused(home, "is empty (0 bytes)")
    assert_refused(home, "is empty (0 bytes)")  # and again: it is not "fixed" by opening
    assert (home / DB_FILE).stat().st_size == 0


def test_a_file_that_is_not_sqlite_is_refused(home: Path) -> None:
    home.mkdir(mode=0o700)
    (home / DB_FILE).write_text("model_name: hello\n")

    assert_refused(home, "is not a SQLite database")


def test_another_programs_database_is_refused(home: Path) -> None:
    home.mkdir(mode=0o700)
    with sqlite3.connect(home / DB_FILE) as conn:
        conn.execute("CREATE TABLE notes (text TEXT)")
    conn.close()

    assert_refused(home, "holds no brace state (no brace schema)")


def test_a_damaged_page_is_refused(home: Path) -> None:
    with Store(home) as store, store.transaction() as tx:
        for number in range(200):
            tx.insert_model(f"model-{number}-" + "x" * 200)
    path = home / DB_FILE
    size = path.stat().st_size
    assert size > 8 * 4096
    with open(path, "r+b") as file:  # scribble over the middle of the b-tree pages
        file.seek(4 * 4096)
        file.write(os.urandom(2 * 4096))

    with pytest.raises(StateError) as caught:
        Store(home)
    assert caught.value.message.startswith(f"{path}: the state file is damaged: ")


def test_a_state_file_that_is_a_directory_is_refused(home: Path) -> None:
    (home / DB_FILE).mkdir(parents=True)

    with pytest.raises(StateError) as caught:
        Store(home)
    assert caught.value.message == (
        f"{home / DB_FILE}: the state file is not a regular file: a directory"
    )


def test_a_home_that_is_a_symlink_loop_is_one_line(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.symlink_to(home)

    with pytest.raises(StateError) as caught:
        Store(home)
    assert caught.value.message == (
        f"{home}: cannot use it as the brace home (Too many levels of symbolic links)"
    )


def test_a_second_store_in_one_process_keeps_the_first_ones_locks(home: Path) -> None:
    """The server opens the state file twice (controller, management API). Closing any
    descriptor of the file drops every POSIX lock of the process, SQLite's included;
    another process would then delete the write-ahead log the first connection still
    writes to, and its writes would be lost to everyone else."""
    import subprocess
    import sys

    first = Store(home)
    second = Store(home)
    try:
        other = [
            sys.executable,
            "-c",
            "from brace.store import Store; import sys; "
            "s = Store(__import__('pathlib').Path(sys.argv[1])); s.close()",
            str(home),
        ]
        subprocess.run(other, check=True, timeout=30)  # opens and closes: the last one?
        with first.transaction() as tx:
            tx.insert_model("written-by-first")
        reader = [
            sys.executable,
            "-c",
            "from brace.store import Store; import sys; "
            "s = Store(__import__('pathlib').Path(sys.argv[1])); tx = s.read(); "
            "print([m.name for m in tx.__enter__().models()])",
            str(home),
        ]
        seen = subprocess.run(reader, check=True, timeout=30, capture_output=True, text=True)
        assert seen.stdout.strip() == "['written-by-first']"
        assert (home / "brace.db-wal").exists()
    finally:
        second.close()
        first.close()
