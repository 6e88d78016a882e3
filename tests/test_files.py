"""Reading files brace did not write: special files refused at once, sizes bounded."""

from __future__ import annotations

import hashlib
import os
import socket
import stat
from pathlib import Path

import pytest

from brace.files import (
    CHUNK,
    EntryKind,
    FileTooLarge,
    SpecialFileError,
    copy_file,
    describe_size,
    describe_sizes,
    hash_file,
    kind_of,
    open_regular,
    read_limited,
)


@pytest.mark.parametrize(
    ("mode", "kind"),
    [
        pytest.param(stat.S_IFREG | 0o644, EntryKind.FILE, id="file"),
        pytest.param(stat.S_IFDIR | 0o755, EntryKind.DIRECTORY, id="directory"),
        pytest.param(stat.S_IFLNK | 0o777, EntryKind.SYMLINK, id="symlink"),
        pytest.param(stat.S_IFIFO | 0o600, EntryKind.FIFO, id="fifo"),
        pytest.param(stat.S_IFSOCK | 0o600, EntryKind.SOCKET, id="socket"),
        pytest.param(stat.S_IFCHR | 0o666, EntryKind.CHARACTER_DEVICE, id="char-device"),
        pytest.param(stat.S_IFBLK | 0o660, EntryKind.BLOCK_DEVICE, id="block-device"),
    ],
)
def test_kind_of(mode: int, kind: EntryKind) -> None:
    assert kind_of(mode) is kind
    assert kind.special is (kind not in (EntryKind.FILE, EntryKind.DIRECTORY, EntryKind.SYMLINK))


@pytest.mark.parametrize(
    ("size", "text"),
    [
        pytest.param(0, "0 bytes", id="zero"),
        pytest.param(1023, "1023 bytes", id="bytes"),
        pytest.param(1024, "1 KiB", id="kib"),
        pytest.param(1536, "1.5 KiB", id="fraction"),
        pytest.param(1024 * 1024, "1 MiB", id="mib"),
        pytest.param(50 * 1024 * 1024 + 1, "50 MiB", id="rounded"),
        pytest.param(3 * 1024**4, "3072 GiB", id="no-unit-above-gib"),
    ],
)
def test_describe_size(size: int, text: str) -> None:
    assert describe_size(size) == text


@pytest.mark.parametrize(
    ("size", "limit", "said"),
    [
        pytest.param(50 * 1024 * 1024, 1024 * 1024, ("50 MiB", "1 MiB"), id="far-over"),
        pytest.param(1024 * 1024 + 1, 1024 * 1024, ("1048577 bytes", "1048576 bytes"), id="just"),
    ],
)
def test_describe_sizes(size: int, limit: int, said: tuple[str, str]) -> None:
    assert describe_sizes(size, limit) == said


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)

    with pytest.raises(SpecialFileError) as caught:
        read_limited(fifo, 100)  # a blocking open would wait here for a writer, forever

    assert caught.value.filename == str(fifo)
    assert caught.value.strerror == "a FIFO (named pipe), not a regular file"


@pytest.mark.parametrize(
    "target",
    [pytest.param("/dev/zero", id="dev-zero"), pytest.param("/dev/null", id="dev-null")],
)
def test_a_device_is_refused(tmp_path: Path, target: str) -> None:
    link = tmp_path / "weights.bin"
    link.symlink_to(target)

    with pytest.raises(SpecialFileError, match="a character device, not a regular file"):
        read_limited(link, None)


def test_a_socket_and_a_directory_are_refused(tmp_path: Path) -> None:
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(str(tmp_path / "s"))
        with pytest.raises(SpecialFileError, match="a socket"):
            open_regular(tmp_path / "s")
    with pytest.raises(SpecialFileError, match="a directory"):
        open_regular(tmp_path)


def test_a_final_symlink_is_not_followed_when_asked(tmp_path: Path) -> None:
    (tmp_path / "real").write_text("x")
    (tmp_path / "link").symlink_to("real")

    os.close(open_regular(tmp_path / "link"))
    with pytest.raises(OSError, match="Too many levels of symbolic links"):
        open_regular(tmp_path / "link", follow_symlinks=False)


def test_read_limited_refuses_above_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_bytes(b"x" * 101)

    assert read_limited(path, 101) == b"x" * 101
    with pytest.raises(FileTooLarge) as caught:
        read_limited(path, 100)
    assert (caught.value.size, caught.value.limit) == (101, 100)
    assert caught.value.strerror == "101 bytes, over the limit of 100 bytes"


def test_hash_and_copy_in_chunks(tmp_path: Path) -> None:
    source = tmp_path / "data.bin"
    content = os.urandom(CHUNK * 2 + 17)
    source.write_bytes(content)
    source.chmod(0o755)

    fd = open_regular(source)
    try:
        hashed = hashlib.sha256()
        assert hash_file(fd, hashed) == len(content)
        os.lseek(fd, 0, os.SEEK_SET)
        copied = hashlib.sha256()
        assert copy_file(fd, tmp_path / "copy.bin", copied) == len(content)
    finally:
        os.close(fd)

    assert hashed.digest() == copied.digest() == hashlib.sha256(content).digest()
    assert (tmp_path / "copy.bin").read_bytes() == content
    assert stat.S_IMODE((tmp_path / "copy.bin").stat().st_mode) == 0o755
    assert (tmp_path / "copy.bin").stat().st_mtime_ns == source.stat().st_mtime_ns
