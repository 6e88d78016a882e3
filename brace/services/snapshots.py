"""Content-addressed snapshots of model directories, for published deployments.

A published deployment must not change when the user edits their directory, so its
files are copied into `<home>/snapshots/<hash>`. The hash covers every path and byte
that would be copied, so identical pushes share one copy. A snapshot is written to a
temporary directory and renamed into place, so a half-copied snapshot is never seen.
External package directories (outside the model directory) are copied in as
`__external__/<n>`, listed in `brace-snapshot.json`.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from brace.config import SNAPSHOT_MANIFEST, Truss
from brace.store import Store

SNAPSHOTS = "snapshots"
MANIFEST = SNAPSHOT_MANIFEST
EXTERNAL = "__external__"
_IGNORED_DIRS = {
    ".git",
    "__pycache__",
    ".venv",
    "venv",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    "node_modules",
    ".idea",
    ".vscode",
}
_IGNORED_SUFFIXES = (".pyc", ".pyo", ".swp", "~")
_IGNORED_FILES = {".DS_Store"}


def _files(root: Path) -> Iterator[Path]:
    for directory, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _IGNORED_DIRS)
        for name in sorted(filenames):
            if name in _IGNORED_FILES or name.endswith(_IGNORED_SUFFIXES):
                continue
            yield Path(directory, name)


def _sources(truss: Truss) -> list[tuple[str, Path]]:
    """(prefix in the snapshot, source directory) for the model and its external dirs."""
    sources = [("", truss.path)]
    for index, name in enumerate(truss.config.external_package_dirs):
        sources.append((f"{EXTERNAL}/{index}/", (truss.path / name).resolve()))
    return sources


def content_hash(truss: Truss) -> str:
    digest = hashlib.sha256()
    for prefix, root in _sources(truss):
        for path in _files(root):
            relative = prefix + path.relative_to(root).as_posix()
            digest.update(relative.encode() + b"\0")
            digest.update(b"x" if os.access(path, os.X_OK) else b"-")
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:24]


def snapshot_path(home: Path, snapshot: str) -> Path:
    return home / SNAPSHOTS / snapshot


def take_snapshot(home: Path, truss: Truss) -> str:
    """Copy the model directory into the home (once per distinct content); its hash."""
    snapshot = content_hash(truss)
    target = snapshot_path(home, snapshot)
    if target.is_dir():
        return snapshot
    target.parent.mkdir(mode=0o700, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=target.parent))
    try:
        for prefix, root in _sources(truss):
            (staging / prefix).mkdir(parents=True, exist_ok=True)  # even when empty
            for path in _files(root):
                destination = staging / prefix / path.relative_to(root)
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, destination)
        external = {
            name: f"{EXTERNAL}/{index}"
            for index, name in enumerate(truss.config.external_package_dirs)
        }
        (staging / MANIFEST).write_text(json.dumps({"external_package_dirs": external}))
        try:
            staging.rename(target)
        except OSError:
            if not target.is_dir():  # not a concurrent push of the same content
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return snapshot


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
        elif entry.name not in in_use and not entry.name.startswith(".staging-"):
            retired.append(_retire(home, entry.name))
    return retired


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
