"""Replicas on a Ray cluster of two nodes on this machine, with real processes.

The whole scenario (`ray_scenario`) runs in a child process inside a private network
and PID namespace (`unshare --net --pid --fork --mount-proc`, as root): Ray's nodes,
brace's server, its agents and replicas all end when that namespace's first process is
killed, which the `finally` here does whatever happened. With CI set, a machine that
cannot make the namespaces fails the test rather than skipping it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.raycluster import UNSHARE, can_unshare, short_dir

ROOT = Path(__file__).resolve().parents[2]


def test_replicas_spread_roll_scale_wake_and_survive_a_lost_node(tmp_path: Path) -> None:
    if not can_unshare():
        if os.environ.get("CI"):
            pytest.fail("the Ray scenario needs root and unshare (CI runs as root)")
        pytest.skip("needs root and unshare for a private network and PID namespace")
    if not os.environ.get("CI"):
        pytest.importorskip("ray")  # in CI it is installed (.ci/run): its absence fails
    short = short_dir()
    process = subprocess.Popen(
        [
            *UNSHARE,
            sys.executable,
            "-m",
            "tests.integration.ray_scenario",
            str(tmp_path),
            str(short),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = process.communicate(timeout=150)
    finally:
        # the namespace's first process: killing it ends every process inside
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        shutil.rmtree(short, ignore_errors=True)
    assert process.returncode == 0, f"{out}\n{err[-6000:]}"
    measured = json.loads(out.strip().splitlines()[-1])
    print(measured)  # with -s: the scenario's timings
    assert measured["nodes"] == 2
    assert measured["replaced_s"] <= 5
