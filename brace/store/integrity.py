"""The state file is brace's and whole, or brace refuses it: it never starts over.

SQLite opens an empty or missing file as an empty database, so a state file truncated
to 0 bytes would quietly become a new, empty store, and the next push would drop every
model brace knew. So the two cases are told apart by construction:

- a home without `brace.db` gets one that is complete from the moment it appears: the
  schema is written to a private temporary file, which is then hard-linked into place
  (`os.link` fails if another process got there first, and then theirs is used);
- an existing file must be a regular, non-empty SQLite database (its header), pass
  `PRAGMA quick_check`, and hold brace's tables. Anything else is refused with a
  `StateError` that names the file and says what to do, and the file is left as it is.

SQLite errors that come from the environment rather than from brace (a full disk, an
I/O error, a damaged page found later, a read-only file) become one-line `StateError`s
with the path too (`environment_error`); any other SQLite error is a bug and stays one.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import sqlite3
from collections.abc import Callable
from enum import Enum
from pathlib import Path

from brace.errors import StateError
from brace.files import EntryKind, kind_of
from brace.store.schema import MIGRATIONS

SQLITE_HEADER = b"SQLite format 3\x00"


def tables_at(version: int) -> frozenset[str]:
    """The tables a state file at schema `version` holds (its migrations create them)."""
    return frozenset(
        name
        for script in MIGRATIONS[:version]
        for name in re.findall(r"CREATE TABLE (\w+)", script)
    )


class Damage(Enum):
    NOT_A_FILE = "is not a regular file"
    EMPTY = "is empty (0 bytes)"
    NOT_SQLITE = "is not a SQLite database"
    NOT_BRACE = "holds no brace state (no brace schema)"
    CORRUPT = "is damaged"


def judge_file(kind: EntryKind, size: int, header: bytes | None = None) -> Damage | None:
    """What is wrong with an existing state file from its kind, size and first bytes
    (None: not read; SQLite itself then refuses a file that is not a database)."""
    if kind is not EntryKind.FILE:
        return Damage.NOT_A_FILE
    if size == 0:
        return Damage.EMPTY
    if header is not None and not header.startswith(SQLITE_HEADER):
        return Damage.NOT_SQLITE
    return None


def judge_schema(version: int, tables: set[str], check: list[str]) -> Damage | None:
    """What is wrong with an open state file: its user_version, its tables, and the
    rows of `PRAGMA quick_check` (["ok"] when whole)."""
    if check != ["ok"]:
        return Damage.CORRUPT
    if version == 0:
        return Damage.NOT_BRACE  # brace only ever links a file with its schema in
    if not tables_at(version).issubset(tables):  # a newer schema has all of ours, too
        return Damage.CORRUPT
    return None


def refused(path: Path, damage: Damage, detail: str = "") -> StateError:
    """The error for a state file brace will not use (and does not touch)."""
    more = f": {detail}" if detail else ""
    return StateError(
        f"{path}: the state file {damage.value}{more}",
        "brace leaves it as it is. Restore it from a backup if you have one; to start "
        f"over without your models and deployments, move it away (mv {path} {path}.bad).",
    )


def check_file(path: Path) -> None:
    """Refuse an existing state file that is not a non-empty regular file.

    Only `stat`: the file is never opened here, because closing any descriptor of a
    file drops every POSIX lock this process holds on it, SQLite's included; another
    process would then take this one's open database for unused and delete its
    write-ahead log. Whether it is a SQLite database is SQLite's to say (SQLITE_NOTADB
    at the first read, `environment_error`).
    """
    info = os.stat(path)
    damage = judge_file(kind_of(info.st_mode), info.st_size)
    if damage is Damage.NOT_A_FILE:
        raise refused(path, damage, kind_of(info.st_mode).value)
    if damage is not None:
        raise refused(path, damage)


def check_schema(path: Path, conn: sqlite3.Connection) -> None:
    """Refuse an open state file that is damaged or not brace's."""
    check = [row[0] for row in conn.execute("PRAGMA quick_check(5)")]
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    damage = judge_schema(version, tables, check)
    if damage is Damage.CORRUPT and check != ["ok"]:
        raise refused(path, damage, "; ".join(check))
    if damage is Damage.CORRUPT:
        missing = sorted(tables_at(version) - tables)
        raise refused(path, damage, "missing tables " + ", ".join(missing))
    if damage is not None:
        raise refused(path, damage)


def create_state_file(path: Path, initialize: Callable[[sqlite3.Connection], None]) -> None:
    """Make `path` a complete state file unless another process already made one.

    `initialize` writes the schema into a new private file next to `path`, which is
    then hard-linked to `path`: there is never a moment where `path` exists but is
    incomplete, so an empty `path` can only mean damage.
    """
    import tempfile  # here: only a new home makes its file; reading needs no temp files

    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}-new-", dir=path.parent)
    os.close(fd)
    try:
        conn = sqlite3.connect(temporary, isolation_level=None)
        try:
            initialize(conn)
        finally:
            conn.close()
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass  # another brace created it first: use that one
        except OSError as error:
            if error.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP):
                raise
            _create_without_links(Path(temporary), path)
    finally:
        for suffix in ("", "-wal", "-shm", "-journal"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary + suffix)


def _create_without_links(complete: Path, path: Path) -> None:
    """For file systems without hard links: claim `path` with O_EXCL, then fill it
    (a crash in between leaves an empty file, which is refused, never reused)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    except FileExistsError:
        return
    with os.fdopen(fd, "wb") as out:
        out.write(complete.read_bytes())
        out.flush()
        os.fsync(out.fileno())


# SQLite's primary result codes that mean "the file or the disk", not "brace's bug".
_FULL = 13
_NOT_A_DATABASE = 26  # SQLITE_NOTADB
_DAMAGED = {11}  # SQLITE_CORRUPT
_UNWRITABLE = {3, 8, 14}  # SQLITE_PERM, SQLITE_READONLY, SQLITE_CANTOPEN
_IO = 10  # SQLITE_IOERR


def no_space_left(path: Path) -> bool:
    """Whether the file system holding `path` has no free block left for its user."""
    try:
        return os.statvfs(path.parent).f_bavail == 0
    except OSError:
        return False


def environment_error(
    path: Path, error: sqlite3.Error, disk_full: Callable[[Path], bool] = no_space_left
) -> StateError | None:
    """The one-line error for a SQLite failure caused by the file or the disk, or None
    when `error` is something else (a constraint, a busy lock, a bug).

    A full disk shows up as SQLITE_FULL only when a write runs out of room; when the
    WAL index or journal cannot be created it says "disk I/O error" or "unable to open
    database file", so those ask `disk_full` before blaming the file.
    """
    code = getattr(error, "sqlite_errorcode", None)
    if code is None:
        return None
    primary = code & 0xFF
    if primary == _FULL or (primary in (_IO, *_UNWRITABLE) and disk_full(path)):
        return StateError(
            f"{path}: the disk is full ({error})",
            "Free some space, then run the command again; nothing was changed.",
        )
    if primary == _NOT_A_DATABASE:
        return refused(path, Damage.NOT_SQLITE)
    if primary in _DAMAGED:
        return refused(path, Damage.CORRUPT, str(error))
    if primary in _UNWRITABLE:
        return StateError(
            f"{path}: cannot write the state file ({error})",
            "Check that the brace home and the files in it belong to you and are writable.",
        )
    if primary == _IO:
        return StateError(f"{path}: cannot read or write the state file ({error})")
    return None
