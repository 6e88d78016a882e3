"""The state store: schema and migrations, file modes, transactions, concurrent writers."""

from __future__ import annotations

import multiprocessing
import sqlite3
import stat
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from brace.errors import BraceError
from brace.services.push import push
from brace.store import (
    Store,
)
from brace.store import db as store_db
from brace.store.schema import MIGRATIONS, SCHEMA_VERSION
from tests.conftest import ECHO_MODEL
from tests.store import workers

WORKERS = 8
PER_WORKER = workers.PER_WORKER


def user_version(home: Path) -> int:
    with sqlite3.connect(home / "brace.db") as conn:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def model_names(store: Store) -> list[str]:
    with store.read() as tx:
        return [m.name for m in tx.models()]


def write_truss(directory: Path, name: str) -> Path:
    (directory / "model").mkdir(parents=True)
    (directory / "config.yaml").write_text(f"model_name: {name}\n")
    (directory / "model" / "model.py").write_text(ECHO_MODEL)
    return directory


# schema and migrations


def test_open_sets_the_schema_version(home: Path) -> None:
    with Store(home):
        pass

    assert SCHEMA_VERSION >= 1
    assert user_version(home) == SCHEMA_VERSION
    with sqlite3.connect(home / "brace.db") as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    assert {"models", "deployments", "environments", "promotions"} <= tables


def test_reopen_does_not_migrate_again(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with Store(home) as store, store.transaction() as tx:
        tx.insert_model("kept")

    def no_write(self: Store) -> None:
        raise AssertionError("reopening an up-to-date store must not write")

    monkeypatch.setattr(Store, "transaction", no_write)
    with Store(home) as reopened:
        assert model_names(reopened) == ["kept"]
    assert user_version(home) == SCHEMA_VERSION


def test_store_from_a_newer_brace_is_refused(home: Path) -> None:
    with Store(home) as store, store.transaction() as tx:
        tx.insert_model("kept")
    with sqlite3.connect(home / "brace.db") as conn:
        conn.execute("PRAGMA user_version = 99")

    with pytest.raises(BraceError) as caught:
        Store(home)

    assert "was written by a newer brace (schema 99" in caught.value.message
    assert f"this brace knows {SCHEMA_VERSION}" in caught.value.message
    assert caught.value.hint is not None
    assert "Upgrade brace" in caught.value.hint
    assert user_version(home) == 99


# files


def test_home_and_database_are_private(home: Path) -> None:
    with Store(home) as store, store.transaction() as tx:
        tx.insert_model("m")

        assert mode(home) == 0o700
        assert mode(home / "brace.db") == 0o600
        for sidecar in ("brace.db-wal", "brace.db-shm"):
            assert mode(home / sidecar) == 0o600, sidecar


def test_loose_home_and_database_are_tightened(home: Path) -> None:
    Store(home).close()
    home.chmod(0o755)
    (home / "brace.db").chmod(0o644)

    with Store(home):
        pass

    assert mode(home) == 0o700
    assert mode(home / "brace.db") == 0o600


def test_nested_home_is_created(tmp_path: Path) -> None:
    home = tmp_path / "a" / "b" / "home"

    with Store(home) as store:
        assert store.home == home
    assert mode(home) == 0o700


def test_migration_waits_for_another_writer(home: Path) -> None:
    """Two brace processes upgrading an older state file: the second waits, it does not
    fail."""
    home.mkdir(mode=0o700)
    with sqlite3.connect(home / "brace.db") as conn:
        for statement in MIGRATIONS[0].split(";"):
            conn.execute(statement)
        conn.execute("PRAGMA user_version = 1")
    conn.close()
    other = sqlite3.connect(home / "brace.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    outcome: list[BaseException | None] = []

    def open_store() -> None:
        try:
            Store(home).close()
            outcome.append(None)
        except BaseException as error:
            outcome.append(error)

    thread = threading.Thread(target=open_store)
    thread.start()
    thread.join(timeout=0.2)  # long enough for the store to reach the lock
    other.execute("COMMIT")
    other.close()
    thread.join(timeout=30)

    assert outcome == [None]
    assert user_version(home) == SCHEMA_VERSION


def test_journal_mode_is_wal(home: Path) -> None:
    with Store(home):
        pass

    with sqlite3.connect(home / "brace.db") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


# transactions


@pytest.mark.parametrize(
    "error",
    [
        pytest.param(RuntimeError("boom"), id="exception"),
        pytest.param(KeyboardInterrupt(), id="interrupt"),
    ],
)
def test_failed_transaction_leaves_no_change(store: Store, error: BaseException) -> None:
    with store.transaction() as tx:
        tx.insert_model("before")

    with pytest.raises(type(error)), store.transaction() as tx:
        tx.insert_model("ghost")
        model = tx.model_by_name("before")
        assert model is not None
        tx.conn.execute("DELETE FROM models WHERE id = ?", (model.id,))
        raise error

    assert model_names(store) == ["before"]
    with store.transaction() as tx:
        tx.insert_model("after")
    assert model_names(store) == ["before", "after"]


def test_constraint_violation_rolls_back(store: Store) -> None:
    with pytest.raises(sqlite3.IntegrityError), store.transaction() as tx:
        tx.insert_model("twin")
        tx.insert_model("twin")

    assert model_names(store) == []


def test_two_stores_see_each_others_commits(home: Path) -> None:
    with Store(home) as first, Store(home) as second:
        with first.transaction() as tx:
            tx.insert_model("from-first")
        assert model_names(second) == ["from-first"]

        with second.transaction() as tx:
            tx.insert_model("from-second")
        assert model_names(first) == ["from-first", "from-second"]


def test_read_is_a_consistent_snapshot(home: Path) -> None:
    with Store(home) as reader, Store(home) as writer:
        with reader.read() as tx:
            assert tx.models() == []
            with writer.transaction() as wtx:
                wtx.insert_model("later")
            assert tx.models() == []
        assert model_names(reader) == ["later"]


def test_transaction_takes_the_write_lock_up_front(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    holder = Store(home)
    monkeypatch.setattr(store_db, "BUSY_TIMEOUT_MS", 50)
    waiter = Store(home)
    try:
        # Nothing is written inside, but BEGIN IMMEDIATE already holds the lock.
        with (
            holder.transaction(),
            pytest.raises(sqlite3.OperationalError, match="locked"),
            waiter.transaction(),
        ):
            pass
        with waiter.transaction() as tx:
            tx.insert_model("now")
        assert model_names(holder) == ["now"]
    finally:
        waiter.close()
        holder.close()


# concurrent writers


def run_in_processes(job: Callable[..., None], args: list[tuple[object, ...]]) -> None:
    """Run `job(*a)` for each `a` in its own spawned process, all starting together."""
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    barrier = context.Barrier(len(args))
    processes = [
        context.Process(target=workers.run, args=(results, barrier, job, *a)) for a in args
    ]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=60) for _ in processes]
    for process in processes:
        process.join(timeout=60)
    assert outcomes == ["ok"] * len(args), "\n".join(o for o in outcomes if o != "ok")
    assert [p.exitcode for p in processes] == [0] * len(args)


def test_parallel_processes_creating_environments(home: Path, tmp_path: Path) -> None:
    with Store(home) as store:
        push(store, write_truss(tmp_path / "hello", "hello"))

    run_in_processes(workers.create_environments, [(str(home), w) for w in range(WORKERS)])

    with Store(home) as store, store.read() as tx:
        model = tx.model_by_name("hello")
        assert model is not None
        names = {e.name for e in tx.environments(model.id)}
    expected = {f"env-{w}-{n}" for w in range(WORKERS) for n in range(PER_WORKER)}
    assert names == expected | {"production"}


def test_parallel_publishes_get_distinct_names(home: Path, tmp_path: Path) -> None:
    directory = write_truss(tmp_path / "hello", "hello")
    with Store(home) as store:
        push(store, directory)

    run_in_processes(workers.publish, [(str(home), str(directory), 3) for _ in range(4)])

    with Store(home) as store, store.read() as tx:
        names = [d.name for d in tx.deployments() if not d.is_development]
        assert len(tx.models()) == 1
    assert sorted(names) == sorted(f"deployment-{n}" for n in range(1, 13))


def test_parallel_first_open_migrates_once(home: Path) -> None:
    run_in_processes(workers.open_and_write, [(str(home),) for _ in range(6)])

    assert user_version(home) == SCHEMA_VERSION
    with Store(home) as store:
        assert len(model_names(store)) == 6


def test_parallel_threads_with_their_own_stores(home: Path, tmp_path: Path) -> None:
    with Store(home) as store:
        push(store, write_truss(tmp_path / "hello", "hello"))
    errors: list[BaseException] = []
    barrier = threading.Barrier(WORKERS)

    def work(worker: int) -> None:
        try:
            barrier.wait(timeout=30)
            workers.create_environments(str(home), worker)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    with Store(home) as store, store.read() as tx:
        model = tx.model_by_name("hello")
        assert model is not None
        assert len(tx.environments(model.id)) == WORKERS * PER_WORKER + 1
