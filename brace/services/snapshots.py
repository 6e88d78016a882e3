"""Content-addressed snapshots of model directories, for published deployments.

A published deployment must not change when the user edits their directory, so its
files are copied into `<home>/snapshots/<hash>`. The hash covers every path and byte
that is copied, so identical pushes share one copy. Which files are copied, and what
happens to symlinks and special files, is decided in modelfiles.py; files are read
and hashed a chunk at a time (brace/files.py), so a large data file costs disk, not
memory. A snapshot is written to a staging directory and renamed into place, so a
half-copied snapshot is never seen; the copy is hashed as it is written and named by
that hash, so a file edited during the copy cannot give a snapshot the wrong name.
External package directories (outside the model directory) are copied in as
`__external__/<n>`, listed in `brace-snapshot.json`.

A staging directory is named after the process writing it (pid and start time). One
left behind by a process that is gone (`kill -9` mid-copy) is removed by the next
snapshot or deletion; one whose process still runs (a concurrent publish) is left alone.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from functools import partial
from pathlib import Path

from brace.config import SNAPSHOT_MANIFEST, Truss
from brace.errors import ConfigError, StateError
from brace.files import copy_file, hash_file, open_regular
from brace.services.modelfiles import ModelFile, model_files
from brace.store import Store

SNAPSHOTS = "snapshots"
MANIFEST = SNAPSHOT_MANIFEST
EXTERNAL = "__external__"
STAGING = ".staging-"
# A staging directory from a brace that did not put its process in the name: removed
# once it is this old (seconds), as no publish takes that long to copy.
LEGACY_STAGING_AGE = 24 * 3600


def _sources(truss: Truss) -> list[tuple[str, Path]]:
    """(prefix in the snapshot, source directory) for the model and its external dirs."""
    sources = [("", truss.path)]
    for index, name in enumerate(truss.config.external_package_dirs):
        sources.append((f"{EXTERNAL}/{index}/", (truss.path / name).resolve()))
    return sources


def snapshot_files(truss: Truss) -> list[ModelFile]:
    """Every file a snapshot of `truss` holds (ConfigError on a refused entry)."""
    return [file for prefix, root in _sources(truss) for file in model_files(root, prefix)]


def _tree_digest(files: list[ModelFile], content: Callable[[ModelFile, int], bytes]) -> str:
    """The snapshot hash: each file's path, executable bit and `content` digest."""
    digest = hashlib.sha256()
    for file in files:
        try:
            fd = open_regular(file.source, follow_symlinks=False)
        except OSError as error:
            raise ConfigError(f"{error.filename}: cannot read it ({error.strerror})") from None
        try:
            executable = bool(os.fstat(fd).st_mode & 0o111)
            file_digest = content(file, fd)
        finally:
            os.close(fd)
        digest.update(file.relative.encode() + b"\0")
        digest.update(b"x" if executable else b"-")
        digest.update(file_digest)
    return digest.hexdigest()[:24]


def _hash_content(file: ModelFile, fd: int) -> bytes:
    digest = hashlib.sha256()
    try:
        hash_file(fd, digest)
    except OSError as error:
        raise ConfigError(f"{file.source}: cannot read it ({error.strerror})") from None
    return digest.digest()


def _copy_content(staging: Path, file: ModelFile, fd: int) -> bytes:
    destination = staging / file.relative
    destination.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    copy_file(fd, destination, digest)
    return digest.digest()


def content_hash(truss: Truss) -> str:
    return _tree_digest(snapshot_files(truss), _hash_content)


def snapshot_path(home: Path, snapshot: str) -> Path:
    return home / SNAPSHOTS / snapshot


def take_snapshot(home: Path, truss: Truss) -> str:
    """Copy the model directory into the home (once per distinct content); its hash."""
    files = snapshot_files(truss)
    snapshot = _tree_digest(files, _hash_content)
    root = home / SNAPSHOTS
    if (root / snapshot).is_dir():
        return snapshot
    try:
        root.mkdir(mode=0o700, exist_ok=True)
        remove_stale_staging(root)
        staging = Path(tempfile.mkdtemp(prefix=_staging_prefix(), dir=root))
    except OSError as error:
        raise _cannot_write(root, error) from None
    try:
        for prefix, _ in _sources(truss):
            (staging / prefix).mkdir(parents=True, exist_ok=True)  # even when empty
        # Named by what was copied: if a file changed since it was hashed above, the
        # copy is still consistent with its name.
        snapshot = _tree_digest(files, partial(_copy_content, staging))
        external = {
            name: f"{EXTERNAL}/{index}"
            for index, name in enumerate(truss.config.external_package_dirs)
        }
        (staging / MANIFEST).write_text(json.dumps({"external_package_dirs": external}))
        target = root / snapshot
        try:
            staging.rename(target)
        except OSError:
            if not target.is_dir():  # not a concurrent push of the same content
                raise
    except OSError as error:
        raise _cannot_write(root, error) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return snapshot


def _cannot_write(root: Path, error: OSError) -> StateError:
    return StateError(
        f"{root}: cannot write the snapshot ({error.strerror})",
        "Free some space or fix the folder's permissions, then publish again.",
    )


def _staging_prefix() -> str:
    from brace.processes import process_started

    pid = os.getpid()
    return f"{STAGING}{pid}-{round(process_started(pid) * 1000)}-"


def staging_owner(name: str) -> tuple[int, float] | None:
    """(pid, start time) of the process that names a staging directory `name`, or None
    when the name does not say (written by an older brace)."""
    if not name.startswith(STAGING):
        return None
    parts = name.removeprefix(STAGING).split("-", 2)
    if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit():
        return None
    return int(parts[0]), int(parts[1]) / 1000


def is_stale(name: str, age: float, alive: Callable[[int, float], bool]) -> bool:
    """Whether the staging directory `name`, last changed `age` seconds ago, was left
    by a process that is gone (`alive(pid, started)` is false)."""
    owner = staging_owner(name)
    if owner is None:
        return age > LEGACY_STAGING_AGE
    return not alive(*owner)


def stale_staging(root: Path, now: Callable[[], float] = time.time) -> list[str]:
    """Names of the staging directories under `root` whose process is gone."""
    from brace.processes import is_same_process

    stale = []
    for entry in root.iterdir() if root.is_dir() else ():
        if not entry.name.startswith(STAGING):
            continue
        try:
            age = now() - entry.lstat().st_mtime
        except FileNotFoundError:  # its process finished meanwhile
            continue
        if is_stale(entry.name, age, is_same_process):
            stale.append(entry.name)
    return stale


def remove_stale_staging(root: Path, now: Callable[[], float] = time.time) -> list[str]:
    """Remove staging directories under `root` whose process is gone; their names."""
    removed = stale_staging(root, now)
    for name in removed:
        shutil.rmtree(root / name, ignore_errors=True)
    return removed


@contextmanager
def new_snapshot(store: Store, truss: Truss | None) -> Iterator[str | None]:
    """Snapshot `truss` (if given) for a deployment about to be recorded.

    If recording fails (a refused push or promotion), the copy is removed again unless
    some deployment uses it, so refused pushes leave no large copies behind.
    """
    snapshot = take_snapshot(store.home, truss) if truss is not None else None
    try:
        yield snapshot
    except BaseException:
        if snapshot is not None:
            with store.transaction() as tx:
                retired = (
                    [] if snapshot in tx.snapshots_in_use() else [_retire(store.home, snapshot)]
                )
            discard(retired)
        raise


def retire_unused(home: Path, in_use: set[str]) -> list[Path]:
    """Move the snapshots no deployment refers to any more out of the way, and return
    where they went, for `discard` to delete once the transaction has committed.

    A rename is all that happens inside the write transaction: deleting a large copy
    there would hold SQLite's write lock (and every other brace process) meanwhile.
    Leftovers of a process killed before its `discard` are returned too.
    """
    root = home / SNAPSHOTS
    if not root.is_dir():
        return []
    retired = []
    for entry in root.iterdir():
        if entry.name.startswith(_TRASH):
            retired.append(entry)
        elif entry.name not in in_use and not entry.name.startswith(STAGING):
            retired.append(_retire(home, entry.name))
    return retired + [root / name for name in stale_staging(root)]


def discard(paths: list[Path]) -> None:
    """Delete retired snapshots (outside any transaction)."""
    for path in paths:
        shutil.rmtree(path, ignore_errors=True)


_TRASH = ".trash-"


def _retire(home: Path, snapshot: str) -> Path:
    source = snapshot_path(home, snapshot)
    target = source.with_name(f"{_TRASH}{snapshot}-{os.getpid()}-{secrets.token_hex(4)}")
    with suppress(FileNotFoundError):
        source.rename(target)
    return target
