"""Damaged state, a full disk, a home that cannot be used: one line, the path, no loss.

The full-disk tests put the brace home on a small tmpfs mounted in a private mount
namespace (`unshare --user --map-root-user --mount`), so nothing outside the test
sees it and it disappears with the test's shell; they are skipped where user
namespaces are not allowed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from brace.store.db import DB_FILE
from tests.cli.conftest import data, expect_error, ok
from tests.conftest import Cli

DAMAGED_HINT = (
    "brace leaves it as it is. Restore it from a backup if you have one; to start over "
    "without your models and deployments, move it away (mv {path} {path}.bad)."
)


def test_an_empty_state_file_is_refused_and_kept(cli: Cli, hello: Path, home: Path) -> None:
    """A 0-byte brace.db used to be taken for a new store: the next push started over
    and every earlier model was gone for good."""
    home.mkdir(mode=0o700)
    path = home / DB_FILE
    path.touch(mode=0o600)
    message = f"{path}: the state file is empty (0 bytes)"
    hint = DAMAGED_HINT.format(path=path)

    expect_error(cli("push", hello), 1, message, hint)
    expect_error(cli("models", "list"), 1, message, hint)
    assert path.stat().st_size == 0
    assert sorted(p.name for p in home.iterdir()) == [DB_FILE]


def test_after_moving_a_damaged_file_away_brace_starts_afresh(
    cli: Cli, hello: Path, home: Path
) -> None:
    home.mkdir(mode=0o700)
    (home / DB_FILE).write_bytes(b"\0" * 4096)
    assert cli("models", "list").exit_code == 1

    (home / DB_FILE).rename(home / "brace.db.bad")

    ok(cli("push", hello))
    assert [m["name"] for m in data(cli, "models", "list")["models"]] == ["hello"]


def test_a_home_that_is_a_symlink_loop(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    monkeypatch.setenv("BRACE_HOME", str(loop))

    expect_error(
        cli("models", "list"),
        1,
        f"{loop}: cannot use it as the brace home (a symlink loop)",
        "Point BRACE_HOME at a directory you own.",
    )


def private_mounts_work() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "--user", "--map-root-user", "--mount", "true"], capture_output=True
    )
    return probe.returncode == 0


needs_private_mounts = pytest.mark.skipif(
    not private_mounts_work(), reason="user and mount namespaces are not available here"
)


def on_a_small_disk(mount: Path, script: str, size_kib: int = 2048) -> str:
    """Run `script` (sh) with a `size_kib` tmpfs at `mount` (`$MNT`), `brace` meaning
    this checkout's CLI; returns its output. The mount lives as long as the script."""
    mount.mkdir()
    prelude = f"""\
        set -u
        mount -t tmpfs -o size={size_kib}k tmpfs "$MNT"
        brace() {{ "{sys.executable}" -m brace "$@"; }}
        fill() {{ dd if=/dev/zero of="$MNT/filler" bs=4k count="${{1:-999999}}" 2>/dev/null; :; }}
    """
    done = subprocess.run(
        [
            "unshare",
            "--user",
            "--map-root-user",
            "--mount",
            "sh",
            "-c",
            textwrap.dedent(prelude) + textwrap.dedent(script),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        # Commands only record: no server is started (nor found on the default port).
        env={
            **os.environ,
            "MNT": str(mount),
            "BRACE_HOME": str(mount / "home"),
            "BRACE_AUTOSTART": "0",  # about the disk, not the server (nor port 8765)
        },
        timeout=120,
    )
    assert "Traceback" not in done.stdout, done.stdout
    return done.stdout


@needs_private_mounts
def test_a_full_disk_is_one_line_and_loses_nothing(tmp_path: Path, hello: Path) -> None:
    mount = tmp_path / "small"
    db = mount / "home" / DB_FILE
    output = on_a_small_disk(
        mount,
        f"""\
        brace push "{hello}" > /dev/null 2>&1 || echo "first push failed"
        fill
        brace environments create staging; echo "exit $?"
        rm "$MNT/filler"
        brace models list -o json
        """,
    )

    lines = output.splitlines()
    # SQLite says "disk I/O error" or "database or disk is full" depending on which
    # write ran out of room first.
    assert lines[0].startswith(f"Error: {db}: the disk is full ("), output
    assert lines[1:3] == [
        "Hint: Free some space, then run the command again; nothing was changed.",
        "exit 1",
    ]
    assert '"name": "hello"' in output  # what was there before is all still there


@needs_private_mounts
def test_a_snapshot_that_does_not_fit_is_one_line_and_leaves_no_copy(
    tmp_path: Path, hello: Path
) -> None:
    mount = tmp_path / "small"
    (hello / "data").mkdir()
    (hello / "data" / "weights.bin").write_bytes(os.urandom(600 * 1024))
    output = on_a_small_disk(
        mount,
        f"""\
        brace push "{hello}" > /dev/null 2>&1 || echo "first push failed"
        fill $(( ($(stat -f -c %a "$MNT") * $(stat -f -c %S "$MNT") - 300 * 1024) / 4096 ))
        brace push "{hello}" --publish; echo "exit $?"
        ls -A "$MNT/home/snapshots"
        echo "snapshots listed"
        """,
    )

    snapshots = mount / "home" / "snapshots"
    assert output.splitlines() == [
        f"Error: {snapshots}: cannot write the snapshot (No space left on device)",
        "Hint: Free some space or fix the folder's permissions, then publish again.",
        "exit 1",
        "snapshots listed",
    ]
