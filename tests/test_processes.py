"""A record names a live process only if the pid, its start time and its state agree."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import psutil
import pytest

from brace.processes import is_same_process, process_started, replica_arguments


@pytest.fixture
def child() -> Iterator[subprocess.Popen[bytes]]:
    """A sleeping child of this test, killed and reaped afterwards whatever happens."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()


def wait_for_zombie(pid: int) -> None:
    deadline = time.monotonic() + 10
    while psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
        assert time.monotonic() < deadline, "the child did not become a zombie"
        time.sleep(0.01)


def test_a_running_process_is_itself(child: subprocess.Popen[bytes]) -> None:
    started = process_started(child.pid)

    assert is_same_process(child.pid, started)
    assert not is_same_process(child.pid, started - 5)  # the pid, reused by another


def test_a_killed_process_not_yet_reaped_is_gone(child: subprocess.Popen[bytes]) -> None:
    """A server killed with SIGKILL stays a zombie until its parent waits for it; it
    serves nothing, so its record must not count as a running server."""
    started = process_started(child.pid)
    os.kill(child.pid, signal.SIGKILL)
    wait_for_zombie(child.pid)  # not reaped: the fixture waits for it only at the end

    assert not is_same_process(child.pid, started)


def test_a_reaped_process_is_gone(child: subprocess.Popen[bytes]) -> None:
    started = process_started(child.pid)
    child.kill()
    child.wait()

    assert not is_same_process(child.pid, started)


def test_proc_reads_what_psutil_reads(child: subprocess.Popen[bytes]) -> None:
    """On Linux `is_same_process` reads /proc without psutil: the same start time to the
    bit, so records written with psutil's value are recognised."""
    if not sys.platform.startswith("linux"):
        pytest.skip("/proc is Linux's")
    from brace.processes import _proc_stat

    found = _proc_stat(child.pid)
    assert found is not None
    state, started = found
    assert state in ("R", "S")  # running or asleep
    assert started == psutil.Process(child.pid).create_time()
    assert _proc_stat(2**22 + 12345) is None  # above the largest pid: no such process


@pytest.mark.parametrize(
    ("cmdline", "expected"),
    [
        # a replica started as a new interpreter: its argv
        (["/v/bin/python", "-P", "-m", "brace.runtime", "--truss", "/m"], ["--truss", "/m"]),
        # a forked one: its title, one shell-quoted string padded with empty ones
        (["/v/bin/python -P -m brace.runtime --truss '/my models/a b'", "", ""],
         ["--truss", "/my models/a b"]),
        (["/v/bin/python", "-P", "-m", "brace.runtime.forkserver"], None),
        (["/v/bin/python", "-m", "brace", "server"], None),
        (["python -m brace.runtime 'unbalanced"], None),
        ([], None),
    ],
)  # fmt: skip
def test_replica_arguments(cmdline: list[str], expected: list[str] | None) -> None:
    assert replica_arguments(cmdline) == expected
