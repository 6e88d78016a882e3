"""The CLI's start path stays light: no server, HTTP or file-watching libraries, and no
Rich at all for a command run with `-o json`.

Every `brace` command pays for what `brace.cli.app` imports, and scripts call brace
many times; the server stack is imported only by the commands that run it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import MakeTruss

HEAVY = ("uvicorn", "httpx", "watchfiles", "starlette", "anyio", "h11")

PROBE = f"""
import json, sys
from brace.cli.app import main
sys.argv = ["brace", "--help"]
try:
    main()
except SystemExit as exit_:
    code = exit_.code
else:
    code = 0
heavy = {HEAVY!r}
loaded = sorted(m for m in sys.modules if m.split(".")[0] in heavy)
sys.stderr.write(json.dumps({{"code": code, "loaded": loaded}}))
"""


def test_help_imports_no_server_stack() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stderr)
    assert report == {"code": 0, "loaded": []}
    assert "push" in result.stdout


def test_python_dash_m_brace_runs(
    brace_process: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    result = brace_process("--help")
    assert (result.returncode, result.stderr) == (0, "")
    assert "push" in result.stdout


JSON_PROBE = """
import json, sys
from brace.cli.app import main
sys.argv = ["brace", *sys.argv[1:]]
try:
    main()
except SystemExit as exit_:
    code = exit_.code
else:
    code = 0
loaded = sorted(m for m in sys.modules if m.split(".")[0] == "rich")
sys.stderr.write("\\n" + json.dumps({"code": code, "loaded": loaded}))
"""


@pytest.mark.parametrize(
    ("args", "code"),
    [
        pytest.param(["deployments", "list"], 0, id="deployments list"),
        pytest.param(["models", "list"], 0, id="models list"),
        pytest.param(["deployments", "show", "development", "-m", "hello"], 0, id="show"),
        pytest.param(["push", "{truss}"], 0, id="push, which says what it did on stderr"),
        pytest.param(["models", "show", "nope"], 4, id="an error"),
        pytest.param(["deployments", "list", "--bogus"], 2, id="a usage error"),
    ],
)
def test_json_output_imports_no_rich(
    args: list[str], code: int, home: Path, make_truss: MakeTruss
) -> None:
    """Scripts get JSON without paying for Rich: not even notes or errors import it."""
    truss = make_truss("hello")
    env = {**os.environ, "BRACE_HOME": str(home), "BRACE_AUTOSTART": "0"}
    push = [sys.executable, "-m", "brace", "push", str(truss), "-o", "json"]
    subprocess.run(push, env=env, check=True, capture_output=True, timeout=60)
    argv = [a.format(truss=truss) for a in args] + ["-o", "json"]
    result = subprocess.run(
        [sys.executable, "-c", JSON_PROBE, *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    report = json.loads(result.stderr.splitlines()[-1])
    assert report == {"code": code, "loaded": []}, result.stderr
    assert json.loads(result.stdout) is not None
