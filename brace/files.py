"""Reading files brace did not write: safely, in bounded memory.

A path in a user's directory can name anything. A FIFO blocks whoever opens it until a
writer comes, possibly forever; `/dev/zero` never ends; a data file may be many
gigabytes. Everything brace reads from the model directory, config.yaml and the
secrets folder goes through here:

- `open_regular` opens without blocking (O_NONBLOCK), optionally without following a
  final symlink, and refuses anything that is not a regular file once it is open
  (so a file swapped for a FIFO between a check and the open is still caught);
- `read_limited` reads a whole file only up to a stated size;
- `hash_file` and `copy_file` work in `CHUNK`-sized pieces, so memory stays flat
  whatever the size of the file.

Refusals are `OSError`s (`SpecialFileError`, `FileTooLarge`) with the path as
`filename` and the reason as `strerror`, so callers that already turn OS errors into
messages word these the same way.
"""

from __future__ import annotations

import errno
import os
import stat
from enum import Enum
from pathlib import Path
from typing import Protocol

CHUNK = 1 << 20  # bytes per read when hashing or copying


class EntryKind(Enum):
    """What a directory entry is, from its mode bits."""

    FILE = "a regular file"
    DIRECTORY = "a directory"
    SYMLINK = "a symbolic link"
    FIFO = "a FIFO (named pipe)"
    SOCKET = "a socket"
    CHARACTER_DEVICE = "a character device"
    BLOCK_DEVICE = "a block device"
    OTHER = "a special file"

    @property
    def special(self) -> bool:
        """Reading it could block, never end, or mean nothing (not a file or folder)."""
        return self not in (EntryKind.FILE, EntryKind.DIRECTORY, EntryKind.SYMLINK)


_KINDS = (
    (stat.S_ISREG, EntryKind.FILE),
    (stat.S_ISDIR, EntryKind.DIRECTORY),
    (stat.S_ISLNK, EntryKind.SYMLINK),
    (stat.S_ISFIFO, EntryKind.FIFO),
    (stat.S_ISSOCK, EntryKind.SOCKET),
    (stat.S_ISCHR, EntryKind.CHARACTER_DEVICE),
    (stat.S_ISBLK, EntryKind.BLOCK_DEVICE),
)


def kind_of(mode: int) -> EntryKind:
    """The kind of file that `st_mode` describes."""
    for test, kind in _KINDS:
        if test(mode):
            return kind
    return EntryKind.OTHER


def describe_size(size: int) -> str:
    """`512 bytes`, `1 KiB`, `1.5 MiB`, `50 MiB`: sizes for messages."""
    if size < 1024:
        return f"{size} bytes"
    value = float(size)
    for unit in ("KiB", "MiB", "GiB"):
        value /= 1024
        if value < 1024 or unit == "GiB":
            break
    text = f"{value:.1f}".removesuffix(".0")
    return f"{text} {unit}"


def describe_sizes(size: int, limit: int) -> tuple[str, str]:
    """A size and the limit it exceeds, in bytes when the rounded forms would read equal."""
    said = describe_size(size), describe_size(limit)
    return said if said[0] != said[1] else (f"{size} bytes", f"{limit} bytes")


class SpecialFileError(OSError):
    """The path is not a regular file (a FIFO, a device, a socket, a directory)."""

    def __init__(self, path: str | os.PathLike[str], kind: EntryKind) -> None:
        super().__init__(errno.EINVAL, f"{kind.value}, not a regular file", os.fspath(path))
        self.kind = kind


class FileTooLarge(OSError):
    """The file is larger than the limit for what it is."""

    def __init__(self, path: str | os.PathLike[str], size: int, limit: int) -> None:
        said, allowed = describe_sizes(size, limit)
        reason = f"{said}, over the limit of {allowed}"
        super().__init__(errno.EFBIG, reason, os.fspath(path))
        self.size = size
        self.limit = limit


def open_regular(path: str | os.PathLike[str], *, follow_symlinks: bool = True) -> int:
    """A read-only descriptor of `path`, which must be a regular file.

    Never blocks on a FIFO. With `follow_symlinks=False` a symlink as the last
    component fails with ELOOP instead of being followed.
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC
    if not follow_symlinks:
        flags |= os.O_NOFOLLOW
    try:
        fd = os.open(path, flags)
    except OSError as error:
        if error.errno != errno.ENXIO:  # what opening a socket says
            raise
        raise SpecialFileError(path, kind_of(os.stat(path).st_mode)) from None
    try:
        kind = kind_of(os.fstat(fd).st_mode)
        if kind is not EntryKind.FILE:
            raise SpecialFileError(path, kind)
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_limited(path: str | os.PathLike[str], limit: int | None) -> bytes:
    """The whole content of the regular file `path`, refused above `limit` bytes
    (`None`: no limit but the file's own size, for files that are ours to read whole)."""
    fd = open_regular(path)
    try:
        size = os.fstat(fd).st_size
        if limit is not None and size > limit:
            raise FileTooLarge(path, size, limit)
        cap = size if limit is None else limit
        parts: list[bytes] = []
        total = 0
        while chunk := os.read(fd, max(1, min(CHUNK, cap + 1 - total))):
            parts.append(chunk)
            total += len(chunk)
            if limit is not None and total > limit:  # it grew while we read
                raise FileTooLarge(path, total, limit)
        return b"".join(parts)
    finally:
        os.close(fd)


def read_text_limited(path: str | os.PathLike[str], limit: int | None) -> str:
    """`read_limited`, decoded as UTF-8 (UnicodeDecodeError if it is not)."""
    return read_limited(path, limit).decode()


class Digest(Protocol):
    def update(self, data: bytes, /) -> None: ...


def hash_file(fd: int, digest: Digest) -> int:
    """Feed the rest of the open file `fd` into `digest`, a chunk at a time; its size."""
    total = 0
    while chunk := os.read(fd, CHUNK):
        digest.update(chunk)
        total += len(chunk)
    return total


def copy_file(fd: int, destination: Path, digest: Digest) -> int:
    """Copy the rest of `fd` to a new file `destination`, feeding `digest` as it goes.

    The copy keeps the source's permission bits (not setuid/setgid/sticky) and times,
    as `shutil.copy2` does. Returns the number of bytes copied.
    """
    source = os.fstat(fd)
    out = os.open(destination, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        total = 0
        while chunk := os.read(fd, CHUNK):
            digest.update(chunk)
            view = memoryview(chunk)
            while view:
                view = view[os.write(out, view) :]
            total += len(chunk)
        os.fchmod(out, stat.S_IMODE(source.st_mode) & 0o777)
    finally:
        os.close(out)
    os.utime(destination, ns=(source.st_atime_ns, source.st_mtime_ns))
    return total
