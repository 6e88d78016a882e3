"""Which files of a model directory a published snapshot holds, and the rules for links.

A snapshot (snapshots.py) holds regular files only. Walking the directory, each entry
is judged by `decide`, a pure function of what the entry is and, for a symbolic link,
where it leads:

- a regular file is copied; a directory is walked;
- a symlink whose target lies inside the directory being copied stands for its target:
  a file's bytes are copied under the link's name, a directory is walked under the
  link's name (so the published model sees what the live one sees);
- a symlink whose target lies outside that directory is refused: publishing would
  copy whatever it points at (`/etc/shadow`, `/dev/zero`) into brace's home;
- a FIFO, socket or device is refused: reading it could block forever or never end;
- a symlink that resolves to nothing is skipped, as Truss skips them (editors leave
  such links: Emacs' `.#model.py` lock files); a symlink that loops (directly, or to a
  directory the walk is already inside) is refused.

Refusals are `ConfigError`s naming the path. Caches and editor files are skipped by
name before any of this (a `.venv` link to a virtualenv elsewhere is never looked at).
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from brace.errors import ConfigError
from brace.files import EntryKind, kind_of

IGNORED_DIRS = frozenset(
    {
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
)
IGNORED_SUFFIXES = (".pyc", ".pyo", ".swp", "~")
IGNORED_FILES = frozenset({".DS_Store"})


class Verdict(Enum):
    FILE = "file"  # copy these bytes
    DIRECTORY = "directory"  # walk it
    SKIP = "skip"  # a symlink to nothing
    SPECIAL = "special"  # refused: FIFO, socket, device
    OUTSIDE = "outside"  # refused: a symlink out of the directory being copied
    LOOP = "loop"  # refused: a symlink that goes round in a circle


@dataclass(frozen=True)
class Facts:
    """What the walk knows about one directory entry."""

    kind: EntryKind  # the entry itself, not followed
    target: EntryKind | None = None  # a symlink's final target; None when there is none
    looped: bool = False  # resolving the symlink went round in a circle (ELOOP)
    inside: bool = True  # the symlink's target lies inside the directory being copied
    ancestor: bool = False  # the target is a directory the walk is already inside


def decide(facts: Facts) -> Verdict:
    """What a snapshot does with one entry (see the module docstring)."""
    if facts.kind is EntryKind.FILE:
        return Verdict.FILE
    if facts.kind is EntryKind.DIRECTORY:
        return Verdict.DIRECTORY
    if facts.kind is not EntryKind.SYMLINK:
        return Verdict.SPECIAL
    if facts.looped:
        return Verdict.LOOP
    if facts.target is None:
        return Verdict.SKIP
    if not facts.inside:
        return Verdict.OUTSIDE
    if facts.target is EntryKind.FILE:
        return Verdict.FILE
    if facts.target is EntryKind.DIRECTORY:
        return Verdict.LOOP if facts.ancestor else Verdict.DIRECTORY
    return Verdict.SPECIAL


def ignored(name: str, facts: Facts) -> bool:
    """Caches, VCS folders, virtualenvs, bytecode and editor files: never copied."""
    if facts.kind in (EntryKind.DIRECTORY, EntryKind.SYMLINK) and name in IGNORED_DIRS:
        return True  # a `.venv` link is skipped without looking where it leads
    if facts.kind is EntryKind.DIRECTORY:
        return False
    return name in IGNORED_FILES or name.endswith(IGNORED_SUFFIXES)


@dataclass(frozen=True)
class ModelFile:
    relative: str  # its path in the snapshot (posix, with the source's prefix)
    source: str  # the real path to read: the file, or a symlink's resolved target


def inside(path: str, root: str) -> bool:
    """Whether the normalized absolute `path` is `root` or lies under it."""
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def model_files(root: Path, prefix: str = "") -> Iterator[ModelFile]:
    """The files a snapshot of `root` holds, in a fixed order: in each directory its
    files by name, then its subdirectories by name. Raises ConfigError on a refusal."""
    real_root = os.path.realpath(root)
    yield from _walk(root, prefix, real_root, (real_root,))


def _walk(
    directory: Path, prefix: str, root: str, ancestors: tuple[str, ...]
) -> Iterator[ModelFile]:
    try:
        with os.scandir(directory) as scan:
            entries = sorted(scan, key=lambda entry: entry.name)
    except OSError as error:
        raise _unreadable(directory, error) from None
    subdirectories: list[tuple[str, Path, str]] = []
    for entry in entries:
        path = Path(entry.path)
        facts, real = _facts(path, root, ancestors)
        if ignored(entry.name, facts):
            continue
        verdict = decide(facts)
        if verdict is Verdict.FILE:
            yield ModelFile(prefix + entry.name, real)
        elif verdict is Verdict.DIRECTORY:
            subdirectories.append((entry.name, path, real))
        elif verdict is not Verdict.SKIP:
            raise refusal(verdict, path, facts, root)
    for name, path, real in subdirectories:
        yield from _walk(path, f"{prefix}{name}/", root, (*ancestors, real))


def _facts(path: Path, root: str, ancestors: tuple[str, ...]) -> tuple[Facts, str]:
    """The facts about `path`, and the real path to read or walk."""
    try:
        kind = kind_of(path.lstat().st_mode)
    except OSError as error:
        raise _unreadable(path, error) from None
    if kind is EntryKind.DIRECTORY:  # its real path, to notice a link back to it later
        return Facts(kind), os.path.realpath(path)
    if kind is not EntryKind.SYMLINK:
        return Facts(kind), str(path)
    real = os.path.realpath(path)
    try:
        target: EntryKind | None = kind_of(os.stat(path).st_mode)
    except OSError as error:
        if error.errno == errno.ELOOP:
            return Facts(kind, looped=True), real
        if error.errno not in (errno.ENOENT, errno.ENOTDIR):
            raise _unreadable(path, error) from None
        target = None
    return Facts(kind, target, inside=inside(real, root), ancestor=real in ancestors), real


def refusal(verdict: Verdict, path: Path, facts: Facts, root: str) -> ConfigError:
    """The error for an entry a snapshot refuses."""
    if verdict is Verdict.LOOP:
        return ConfigError(
            f"{path}: a symlink that loops", "Remove the link, or point it at a file or folder."
        )
    if verdict is Verdict.OUTSIDE:
        return ConfigError(
            f"{path}: a symlink to {os.path.realpath(path)}, outside {root}",
            "A published deployment copies only what lies inside the model directory: "
            "copy the file in, or remove the link.",
        )
    kind = facts.target if facts.kind is EntryKind.SYMLINK else facts.kind
    what = f"a symlink to {kind.value}" if facts.kind is EntryKind.SYMLINK and kind else None
    return ConfigError(
        f"{path}: {what or facts.kind.value}, not a regular file or folder",
        "A published deployment copies regular files only: remove it from the model directory.",
    )


def _unreadable(path: Path, error: OSError) -> ConfigError:
    return ConfigError(f"{path}: cannot read it ({error.strerror})")
