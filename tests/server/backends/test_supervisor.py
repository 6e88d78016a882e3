"""Signalling replicas' process groups."""

from __future__ import annotations

import subprocess
import sys

import pytest

SIGNALLER = """
import signal, sys
from brace.server.backends.supervisor import kill_group
kill_group(int(sys.argv[1]), signal.SIGTERM)
print("still here")
"""


@pytest.mark.parametrize("pid", [0, -1])
def test_kill_group_of_no_local_process_signals_nothing(pid: int) -> None:
    """A replica on another node has pid 0 here: `killpg(0)` would end the caller's own
    group (the server), so it is never sent. The signaller leads its own group."""
    done = subprocess.run(
        [sys.executable, "-c", SIGNALLER, str(pid)],
        start_new_session=True,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert (done.returncode, done.stdout) == (0, "still here\n")
