"""The CLI's start path stays light: no server, HTTP or file-watching libraries.

Every `brace` command pays for what `brace.cli.app` imports, and scripts call brace
many times; the server stack is imported only by the commands that run it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable

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
