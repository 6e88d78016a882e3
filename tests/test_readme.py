"""The command blocks of README.md and docs/ run as written, with a real server.

Every ```bash block is either run here or named in NOT_RUN with the reason. The first
session runs on a fresh brace home, and again after the README's first command (and
the block of inference URLs that follows it), where the model `hello` already exists.
Each line runs in bash with the exit code its comment promises (`(exit 5)`), else 0;
a block whose lines share shell variables runs as one script. The server the commands
start in the background is stopped at the end, even when a test fails.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = [README, *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"^```bash\n(.*?)^```", re.MULTILINE | re.DOTALL)
EXIT = re.compile(r"\(exit (\d+)\)")
INSTALL = "pip install -e . && "  # the venv running the tests has brace installed

NOT_RUN = {
    "pip install -c constraints.txt -e '.[test,ray]' && pytest": "it is this test suite",
    "python docs/screenshot.py": "it starts its own server and a browser; "
    "tests/integration/test_console.py drives the same pages",
}


def blocks(path: Path) -> list[str]:
    return [match.group(1) for match in BLOCK.finditer(path.read_text())]


def readme_block(starts_with: str) -> str:
    found = [block for block in blocks(README) if block.startswith(starts_with)]
    assert len(found) == 1, f"README.md has {len(found)} bash blocks starting {starts_with!r}"
    return found[0]


QUICKSTART = readme_block("pip install -e . && brace push examples/hello")
URLS = readme_block("brace push examples/hello ")
FIRST_SESSION = readme_block("brace init my-model")
API = readme_block('AUTH="Authorization: Api-Key $(brace api-key)"\nMODEL_ID=')


def test_every_bash_block_is_run_or_said_why_not() -> None:
    run = {QUICKSTART, URLS, FIRST_SESSION, API}
    for path in DOCS:
        for block in blocks(path):
            assert block in run or block.strip() in NOT_RUN, (
                f"{path.name}: a bash block no test runs:\n{block}"
            )


@dataclass
class Shell:
    """bash in a working directory, with a fresh brace home and a free port."""

    cwd: Path
    env: dict[str, str]

    def run(self, script: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", "-o", "pipefail", "-c", script],
            cwd=cwd or self.cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=180,
        )

    def lines(self, block: str, cwd: Path | None = None) -> list[str]:
        """Run each line of `block`; check its exit code; the outputs."""
        outputs = []
        for line in block.splitlines():
            if not line.strip():
                continue
            expected = EXIT.search(line)
            done = self.run(line, cwd)
            code = int(expected.group(1)) if expected else 0
            assert done.returncode == code, (
                f"`{line}` exited {done.returncode}, not {code}:\n{done.stdout}\n{done.stderr}"
            )
            assert "Traceback" not in done.stderr, done.stderr
            outputs.append(done.stdout)
        return outputs


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def shell(tmp_path: Path) -> Iterator[Shell]:
    home = tmp_path / "home"
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("BRACE_", "TRUSS_SECRET_"))
    }
    env.update(BRACE_HOME=str(home), BRACE_PORT=str(_free_port()))
    work = tmp_path / "work"
    work.mkdir()
    running = Shell(work, env)
    try:
        yield running
    finally:
        running.run("brace down")
        record = home / "server.json"
        with contextlib.suppress(OSError, ValueError, KeyError, ProcessLookupError):
            os.kill(json.loads(record.read_text())["pid"], signal.SIGKILL)


def test_the_first_session_on_a_fresh_home(shell: Shell) -> None:
    outputs = shell.lines(FIRST_SESSION)
    assert json.loads(outputs[-2])["name"] == "production"
    assert json.loads(outputs[-4]) == {"echo": {"text": "hi"}}


def test_the_readme_in_order_from_its_first_command(shell: Shell) -> None:
    assert QUICKSTART.startswith(INSTALL)
    shell.lines(QUICKSTART.removeprefix(INSTALL), cwd=ROOT)
    urls = shell.run("set -e\n" + URLS, cwd=ROOT)
    assert urls.returncode == 0, urls.stderr
    # Five answers from the model, none from the gateway saying no.
    assert urls.stdout.count('{"greeting": "hello", "echo": ') == 5, urls.stdout
    assert '"error"' not in urls.stdout
    api = shell.run("set -e\n" + API, cwd=ROOT)
    assert api.returncode == 0, api.stderr
    assert '"models"' in api.stdout and '"current_deployment"' in api.stdout, api.stdout
    assert '"error"' not in api.stdout
    outputs = shell.lines(FIRST_SESSION)
    assert json.loads(outputs[-4]) == {"echo": {"text": "hi"}}
