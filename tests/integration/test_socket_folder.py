"""Another local user who prepares the sockets folder gets nothing: `brace up` as a user runs it.

The folder under $TMPDIR is created first by a real second user (uid 65534, with
`setpriv`); see tests/server/test_paths.py for every way a folder is refused.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from functools import partial
from pathlib import Path

from tests.integration.conftest import free_port, run_brace
from tests.other_user import NOBODY, as_nobody
from tests.other_user import shared_tmp as shared_tmp
from tests.server.test_paths import deep_home

Brace = Callable[..., subprocess.CompletedProcess[str]]


def cli(home: Path, temp: Path) -> Brace:
    env = {**os.environ, "BRACE_HOME": str(home), "BRACE_PORT": str(free_port())}
    env["TMPDIR"] = str(temp)
    return partial(run_brace, env)


def test_up_refuses_a_folder_another_user_created(shared_tmp: Path) -> None:
    base = shared_tmp / f"brace-{os.getuid()}"
    as_nobody("mkdir", "-m", "0700", str(base))
    brace = cli(deep_home(shared_tmp), shared_tmp)
    try:
        up = brace("up")
    finally:
        brace("down")
    assert up.returncode == 1, up.stderr
    assert up.stderr.startswith(
        f"Error: {base} belongs to another user (uid {NOBODY}); brace will not use it\n"
        f"Hint: Remove {base} (another user may have created it)"
    )
    assert list(base.iterdir()) == []


def test_another_users_folder_under_tmp_does_not_concern_a_usual_home(
    shared_tmp: Path, tmp_path: Path
) -> None:
    base = shared_tmp / f"brace-{os.getuid()}"
    as_nobody("mkdir", "-m", "0777", str(base))
    home = tmp_path / "home"
    brace = cli(home, shared_tmp)
    try:
        up = brace("up", "-o", "json")
        assert up.returncode == 0, up.stderr
        assert json.loads(brace("status", "-o", "json").stdout)["running"] is True
        assert (home / "sockets" / "internal.sock").exists()
    finally:
        assert brace("down").returncode == 0
    assert list(base.iterdir()) == []
