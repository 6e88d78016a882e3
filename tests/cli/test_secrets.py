"""`brace secrets set | list | delete`: the value from standard input, never an argument,
never shown; the file a replica reads."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from brace.runtime.secrets import Secrets


def brace(home: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "brace", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, "BRACE_HOME": str(home)},
        timeout=60,
    )


def test_set_list_delete(home: Path) -> None:
    saved = brace(home, "secrets", "set", "hf_token", stdin="s3cr3t-value\n")
    assert saved.returncode == 0, saved.stderr
    assert saved.stdout.startswith("Saved secret hf_token. A replica reads it on its next start")
    as_json = brace(home, "secrets", "set", "hf_token", "-o", "json", stdin="s3cr3t-value\n")
    assert (as_json.returncode, as_json.stderr) == (0, "")
    assert set(json.loads(as_json.stdout)) == {"name", "created_at"}
    path = home / "secrets" / "hf_token"
    assert path.read_text() == "s3cr3t-value"  # `echo`'s newline is not part of it
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # the replica's reader sees exactly that value
    assert Secrets({"hf_token": None}, home, environ={})["hf_token"] == "s3cr3t-value"

    listed = brace(home, "secrets", "list", "-o", "json")
    assert [s["name"] for s in json.loads(listed.stdout)["secrets"]] == ["hf_token"]
    text = brace(home, "secrets", "list")
    assert text.stdout.splitlines()[0].split() == ["NAME", "SAVED", "(UTC)"]
    for result in (saved, listed, text):
        assert "s3cr3t" not in result.stdout + result.stderr

    refused = brace(home, "secrets", "delete", "hf_token")
    assert refused.returncode == 2
    assert "without confirmation" in refused.stderr
    assert path.exists()
    deleted = brace(home, "secrets", "delete", "hf_token", "--yes", "-o", "json")
    assert (deleted.stderr, json.loads(deleted.stdout)) == (
        "",
        {"name": "hf_token", "deleted": True},
    )
    assert not path.exists()
    again = brace(home, "secrets", "delete", "hf_token", "--yes")
    assert (again.returncode, again.stderr.splitlines()[0]) == (
        4,
        "Error: no secret named 'hf_token'",
    )


@pytest.mark.parametrize(
    ("args", "stdin", "error"),
    [
        pytest.param(
            ("../escape",),
            "v",
            "Error: invalid secret name '../escape': use 1-255 letters, digits, '-', '_' and "
            "'.' (not '.' or '..')",
            id="bad-name",
        ),
        pytest.param(("empty",), "", "Error: no value on standard input", id="no-value"),
        pytest.param(
            ("big",),
            "x" * (1024 * 1024 + 1),
            "Error: the secret's value is larger than 1048576 bytes",
            id="too-large",
        ),
        pytest.param(
            ("token", "the-value"),
            "",
            "Error: Got unexpected extra argument (the-value)",
            id="value-as-argument",
        ),
    ],
)
def test_refusals(home: Path, args: tuple[str, ...], stdin: str, error: str) -> None:
    result = brace(home, "secrets", "set", *args, stdin=stdin)
    assert result.returncode != 0
    assert error in result.stderr.splitlines()
    assert not (home / "secrets").exists() or not any((home / "secrets").iterdir())


def test_a_save_killed_midway_leaves_nothing_for_long(home: Path) -> None:
    from brace.services.secrets import save

    save(home, "first", "v")
    folder = home / "secrets"
    old, fresh = folder / ".saving-old", folder / ".saving-fresh"
    old.write_text("half a val")
    fresh.write_text("being written")
    os.utime(old, (0, 0))
    save(home, "second", "v")  # removes the old leftover, not the one being written
    assert sorted(p.name for p in folder.iterdir()) == [".saving-fresh", "first", "second"]
    listed = brace(home, "secrets", "list", "-o", "json")
    assert [s["name"] for s in json.loads(listed.stdout)["secrets"]] == ["first", "second"]
