"""A second local user for the tests where another user acts against brace.

`as_nobody` runs a command as uid/gid 65534 with `setpriv`; a test that needs it is
skipped only when this process cannot switch users (not root, or no setpriv).
`shared_tmp` is a sticky, world-writable folder like /tmp that both users can reach.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

NOBODY = 65534


def _setpriv() -> list[str]:
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to act as a second user")
    return ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]


def as_nobody(*command: str) -> None:
    """Run `command` as uid/gid 65534 with no supplementary groups."""
    subprocess.run([*_setpriv(), *command], check=True, timeout=10)


def start_as_nobody(*command: str) -> subprocess.Popen[bytes]:
    """Start `command` as uid/gid 65534; the caller stops it (kill, then wait)."""
    return subprocess.Popen([*_setpriv(), *command], start_new_session=True)


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A world-writable sticky folder under /tmp, removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="brace-test-", dir="/tmp"))
    folder.chmod(0o1777)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
