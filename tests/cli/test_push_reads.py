"""`push --publish` on model directories that hold special files: refused at once.

Each case runs the real `brace` in a subprocess with a deadline and a memory cap,
because the faults these tests pin were a hang (a FIFO) and unbounded memory (a link
to /dev/zero): a regression must fail the test, not hang it or exhaust the machine.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from brace.services.snapshots import SNAPSHOTS
from tests.cli.conftest import error_text

MEMORY_CAP = 2 * 1024**3  # bytes of address space for the brace process
HINT_OUTSIDE = (
    "A published deployment copies only what lies inside the model directory: "
    "copy the file in, or remove the link."
)
HINT_SPECIAL = (
    "A published deployment copies regular files only: remove it from the model directory."
)


def publish(directory: Path, home: Path) -> subprocess.CompletedProcess[str]:
    """`brace push DIR --publish`, capped at MEMORY_CAP and 30 s."""

    def cap_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))

    return subprocess.run(
        [sys.executable, "-m", "brace", "push", str(directory), "--publish"],
        capture_output=True,
        text=True,
        env={**os.environ, "BRACE_HOME": str(home)},
        timeout=30,
        preexec_fn=cap_memory,
    )


@pytest.mark.parametrize(
    ("make", "message", "hint"),
    [
        pytest.param(
            lambda root, outside: os.mkfifo(root / "data" / "stream"),
            "{root}/data/stream: a FIFO (named pipe), not a regular file or folder",
            HINT_SPECIAL,
            id="fifo",
        ),
        pytest.param(
            lambda root, outside: (root / "data" / "zeros.bin").symlink_to("/dev/zero"),
            "{root}/data/zeros.bin: a symlink to /dev/zero, outside {root}",
            HINT_OUTSIDE,
            id="link-to-dev-zero",
        ),
        pytest.param(
            lambda root, outside: (root / "data" / "shadow").symlink_to(outside / "shadow"),
            "{root}/data/shadow: a symlink to {outside}/shadow, outside {root}",
            HINT_OUTSIDE,
            id="link-to-a-private-file",
        ),
        pytest.param(
            lambda root, outside: (root / "data" / "loop").symlink_to("loop"),
            "{root}/data/loop: a symlink that loops",
            "Remove the link, or point it at a file or folder.",
            id="loop",
        ),
    ],
)
def test_publish_refuses_special_files_with_their_path(
    hello: Path,
    home: Path,
    tmp_path: Path,
    make: Callable[[Path, Path], object],
    message: str,
    hint: str,
) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "shadow").write_text("root:$6$not-for-a-snapshot\n")
    (hello / "data").mkdir()
    make(hello, outside)

    done = publish(hello, home)

    assert (done.returncode, done.stdout) == (5, ""), done.stderr
    assert done.stderr == error_text(message.format(root=hello, outside=outside), hint)
    snapshots = home / SNAPSHOTS
    assert not snapshots.exists() or list(snapshots.iterdir()) == []


def test_publish_follows_a_symlinked_folder_inside(hello: Path, home: Path) -> None:
    (hello / "weights").mkdir()
    (hello / "weights" / "w.txt").write_text("w")
    (hello / "data").symlink_to("weights")

    done = publish(hello, home)

    assert done.returncode == 0, done.stderr
    (snapshot,) = (home / SNAPSHOTS).iterdir()
    assert (snapshot / "data" / "w.txt").read_text() == "w"
