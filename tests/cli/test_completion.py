"""Shell completion: `--install-completion`, `--show-completion`, and the completions
themselves. Only a completion request builds the whole command tree; every other run
builds the path its arguments name (brace.cli.lazy), so start-up costs what it did
(bench/cli_startup.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import Cli


def complete(cli: Cli, monkeypatch: pytest.MonkeyPatch, line: str) -> list[str]:
    """What bash's completion script gets for `line` (completing its last word)."""
    words = line.split(" ")
    monkeypatch.setenv("_BRACE_COMPLETE", "complete_bash")
    monkeypatch.setenv("COMP_WORDS", line)
    monkeypatch.setenv("COMP_CWORD", str(len(words) - 1))
    result = cli()
    assert result.exit_code == 0, result.stderr
    return result.stdout.split()


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        pytest.param("brace depl", ["deployments"], id="a command"),
        pytest.param("brace deployments ", ["list", "show", "autoscaling"], id="a group's"),
        pytest.param("brace rollout force-", ["force-cancel", "force-roll-forward"], id="nested"),
        pytest.param(
            "brace environments update production --max-s",
            ["--max-surge-percent"],
            id="an option",
        ),
    ],
)
def test_completions(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, line: str, expected: list[str]
) -> None:
    assert complete(cli, monkeypatch, line) == expected


def _brace() -> str:
    script = Path(sys.executable).parent / "brace"
    assert script.exists(), "the brace entry point is not installed"
    return str(script)


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_show_and_install_completion_from_bash(tmp_path: Path) -> None:
    env = {**os.environ, "HOME": str(tmp_path), "SHELL": "/bin/bash"}
    shown = subprocess.run(
        ["bash", "-c", f"{_brace()} --show-completion"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stderr
    assert "_BRACE_COMPLETE=complete_bash" in shown.stdout
    installed = subprocess.run(
        ["bash", "-c", f"{_brace()} --install-completion"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert installed.returncode == 0, installed.stderr
    assert "bash completion installed in" in installed.stdout
    assert "brace" in (tmp_path / ".bashrc").read_text()
