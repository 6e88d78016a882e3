"""The state store: one SQLite file in the brace home, shared by the CLI and the server.

Every mutation runs in `Store.transaction()`, which takes SQLite's write lock up front
(`BEGIN IMMEDIATE`), so two brace processes never interleave a read-modify-write and
never see a half-applied change. WAL lets readers proceed while one process writes; the
busy timeout makes writers queue instead of failing. The file survives `kill -9` of any
process: an interrupted transaction is simply not there when the file is next opened.
The queries of a transaction are `tx.Tx`'s.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import datetime
from pathlib import Path

from brace.errors import BraceError, StateError
from brace.home import ensure_private_dir
from brace.polling import poll
from brace.store.integrity import (
    check_file,
    check_schema,
    create_state_file,
    environment_error,
)
from brace.store.schema import MIGRATIONS, SCHEMA_VERSION

# The stamps live in stamps.py (Tx writes them too); these names are kept for the
# modules that import them from here.
from brace.store.stamps import new_id as new_id
from brace.store.stamps import stamp as stamp
from brace.store.stamps import utc_now as utc_now
from brace.store.tx import Tx

DB_FILE = "brace.db"
BUSY_TIMEOUT_MS = 30_000


class Store:
    """The open state file. One per process (or per thread); cheap to create.

    Opening never creates an incomplete file and never reuses a damaged one
    (integrity.py); SQLite errors caused by the disk or the file (full, damaged,
    read-only) come out of every method as one-line `StateError`s naming the file.
    """

    def __init__(self, home: Path, clock: Callable[[], datetime] = utc_now) -> None:
        try:
            self.home = ensure_private_dir(home)
        except OSError as error:
            raise StateError(
                f"{home}: cannot use it as the brace home ({error.strerror})",
                "Point BRACE_HOME at a directory you own.",
            ) from None
        self.path = home / DB_FILE
        self.clock = clock
        try:
            if not os.path.lexists(self.path):
                create_state_file(self.path, _initialize)
            check_file(self.path)
            if os.stat(self.path).st_mode & 0o077:
                os.chmod(self.path, 0o600)
        except OSError as error:
            raise StateError(
                f"{self.path}: cannot open the state file ({error.strerror})",
                "Check that the brace home and the files in it belong to you.",
            ) from None
        except sqlite3.Error as error:
            raise self._translated(error) from None
        try:
            self._conn = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None
            )
        except sqlite3.Error as error:
            raise self._translated(error) from None
        self._conn.row_factory = sqlite3.Row
        try:
            self._conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self._conn.execute("PRAGMA foreign_keys = ON")
            check_schema(self.path, self._conn)  # before anything writes to the file
            self._use_wal()
            self._conn.execute("PRAGMA synchronous = NORMAL")
            self._migrate()
        except sqlite3.Error as error:
            self._conn.close()
            raise self._translated(error) from None
        except BaseException:
            self._conn.close()
            raise

    def _translated(self, error: sqlite3.Error) -> BaseException:
        """`error` as a one-line StateError when the disk or the file caused it."""
        return environment_error(self.path, error) or error

    def _use_wal(self) -> None:
        """Switch a file made by an older brace to WAL, waiting for other processes that
        are doing the same (a new file is made in WAL mode, integrity.py).

        The switch needs an exclusive lock, and SQLite does not call the busy handler
        for it (two connections could deadlock), so "database is locked" is retried
        here for as long as the busy timeout would have waited.
        """

        def switch() -> bool | None:
            try:
                if self._conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                    self._conn.execute("PRAGMA journal_mode = WAL")
            except sqlite3.OperationalError as error:
                if "locked" not in str(error):
                    raise
                return None
            return True

        if poll(switch, BUSY_TIMEOUT_MS / 1000, 0.005) is None:
            raise sqlite3.OperationalError("database is locked")

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _migrate(self) -> None:
        version = self._conn.execute("PRAGMA user_version").fetchone()[0]
        if version == SCHEMA_VERSION:
            return
        if version > SCHEMA_VERSION:
            raise BraceError(
                f"{self.path} was written by a newer brace (schema {version}, "
                f"this brace knows {SCHEMA_VERSION})",
                "Upgrade brace, or point BRACE_HOME at another directory.",
            )
        with self.transaction() as tx:
            _apply_migrations(tx.conn)

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        """A write transaction: holds the write lock from the first statement."""
        with self._translating():
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield Tx(self._conn, self.clock)
            except BaseException:
                self._rollback()
                raise
            try:
                self._conn.execute("COMMIT")
            except BaseException:
                self._rollback()
                raise

    @contextmanager
    def read(self) -> Iterator[Tx]:
        """A read transaction: a consistent snapshot while it lasts."""
        with self._translating():
            self._conn.execute("BEGIN")
            try:
                yield Tx(self._conn, self.clock)
            finally:
                self._rollback()

    def _rollback(self) -> None:
        # After a full disk or an I/O error SQLite may already have rolled back.
        if self._conn.in_transaction:
            with suppress(sqlite3.Error):
                self._conn.execute("ROLLBACK")

    @contextmanager
    def _translating(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as error:
            translated = environment_error(self.path, error)
            if translated is None:
                raise
            raise translated from None


def _apply_migrations(conn: sqlite3.Connection) -> None:
    """Bring the schema up to SCHEMA_VERSION (inside the caller's write transaction)."""
    # Another process may have migrated while we waited for the lock.
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        for statement in statements(script):
            conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {number}")


def statements(script: str) -> list[str]:
    """The SQL statements of a migration script, one string each: split at semicolons,
    but a trigger's body (BEGIN ... END;) stays whole (`sqlite3.complete_statement`)."""
    found: list[str] = []
    pending = ""
    for piece in script.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \n;"):
                found.append(pending)
            pending = ""
    if pending.strip(" \n;"):
        found.append(pending)
    return found


def _initialize(conn: sqlite3.Connection) -> None:
    """Write the whole schema into a new, private file (integrity.create_state_file)."""
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("BEGIN IMMEDIATE")
    _apply_migrations(conn)
    conn.execute("COMMIT")
