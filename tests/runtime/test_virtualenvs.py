"""Per-requirement-set virtualenvs, layered on brace's environment.

pip runs for real, offline (PIP_NO_INDEX=1): with a requirement brace's environment
already satisfies, with one that cannot exist, and with a wheel built here.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import importlib.util
import json
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from brace.errors import BraceError
from brace.runtime.virtualenvs import (
    ENVS,
    MARKER,
    BuildFailed,
    ensure_environment,
    environment_key,
)
from tests.runtime.conftest import EXAMPLES, Launcher, replica_env, write_truss


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIP_NO_INDEX", "1")


def test_no_requirements_means_brace_python(tmp_path: Path) -> None:
    assert ensure_environment(tmp_path, (), print) == Path(sys.executable)
    assert not (tmp_path / ENVS).exists()


def test_key_ignores_order() -> None:
    assert environment_key(("b", "a")) == environment_key(("a", "b"))
    assert environment_key(("a",)) != environment_key(("a", "b"))
    assert len(environment_key(("a",))) == 16


def test_builds_once_then_reuses(tmp_path: Path) -> None:
    requirements = ("pyyaml>=5",)
    target = tmp_path / ENVS / environment_key(requirements)
    (target / "bin").mkdir(parents=True)  # a remnant without a marker is never used
    messages: list[str] = []
    python = ensure_environment(tmp_path, requirements, messages.append)
    assert python == target / "bin" / "python"
    assert [m.split()[0] for m in messages] == ["Building", "Environment"]
    marker = json.loads((target / MARKER).read_text())
    assert marker["requirements"] == ["pyyaml>=5"]
    assert ensure_environment(tmp_path, requirements, messages.append) == python
    assert len(messages) == 2  # nothing rebuilt
    leftovers = [p.name for p in (tmp_path / ENVS).iterdir() if p.name.startswith(".staging")]
    assert leftovers == []
    for script in (target / "bin").iterdir():
        if script.is_file() and not script.is_symlink():
            assert b".staging-" not in script.read_bytes(), script
    probe = (
        "import json, sys, brace.runtime.server, starlette, uvicorn, yaml;"
        "print(json.dumps([sys.prefix, sys.base_prefix, sys.path]))"
    )
    result = subprocess.run([str(python), "-c", probe], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    prefix, base_prefix, path = json.loads(result.stdout)
    assert (prefix, base_prefix != prefix) == (str(target), True)
    # The venv's own site-packages (the model's requirements) come before brace's.
    venv_site = str(next((target / "lib").glob("python*/site-packages")))
    assert path.index(venv_site) < path.index(sysconfig.get_path("purelib"))


def test_failing_requirement_raises_with_pips_output(tmp_path: Path) -> None:
    with pytest.raises(BuildFailed) as raised:
        ensure_environment(tmp_path, ("brace-no-such-package==0.0.0",), print)
    assert isinstance(raised.value, BraceError)
    message = raised.value.message
    assert message.startswith("installing requirements failed (pip exited with 1):\n")
    assert "brace-no-such-package==0.0.0" in message
    assert len(message.splitlines()) <= 41
    assert raised.value.hint
    assert [p.name for p in (tmp_path / ENVS).iterdir() if not p.name.endswith(".lock")] == []


def build_wheel(directory: Path) -> Path:
    """A pure-Python wheel `tinypkg 0.1` with a console script, written by hand."""
    dist = "tinypkg-0.1.dist-info"
    files = {
        "tinypkg/__init__.py": "def shout(text):\n    return text.upper() + '!'\n\n\n"
        "def main():\n    print(shout('cli'))\n",
        f"{dist}/METADATA": "Metadata-Version: 2.1\nName: tinypkg\nVersion: 0.1\n",
        f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: brace-tests\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
        f"{dist}/entry_points.txt": "[console_scripts]\ntinycmd = tinypkg:main\n",
    }
    record = []
    for name, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append(f"{name},sha256={digest.decode()},{len(text.encode())}")
    files[f"{dist}/RECORD"] = "\n".join([*record, f"{dist}/RECORD,,"]) + "\n"
    wheel = directory / "tinypkg-0.1-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return wheel


USES_TINYPKG = """\
class Model:
    def load(self):
        import tinypkg

        self._shout = tinypkg.shout

    def predict(self, model_input):
        return self._shout(model_input)
"""


def test_replica_runs_in_the_built_environment(tmp_path: Path, start_replica: Launcher) -> None:
    wheel = build_wheel(tmp_path)
    requirement = f"tinypkg @ {wheel.as_uri()}"
    home = tmp_path / "home"
    python = ensure_environment(home, (requirement,), print)
    # Console scripts were written in the staging directory and moved with it.
    script = python.parent / "tinycmd"
    assert subprocess.run([str(script)], capture_output=True, text=True).stdout == "CLI!\n"
    truss = write_truss(
        tmp_path / "uses-tinypkg",
        f"model_name: tiny\nrequirements:\n  - {requirement}\n",
        USES_TINYPKG,
    )
    replica = start_replica(truss, python=python, env=replica_env(home))
    assert replica.predict("hi").json() == "HI!"
    assert importlib.util.find_spec("tinypkg") is None  # installed only in the venv


def _has_humanize_4_11() -> bool:
    try:
        return importlib.metadata.version("humanize") == "4.11.0"
    except importlib.metadata.PackageNotFoundError:
        return False


@pytest.mark.skipif(
    not _has_humanize_4_11(),
    reason="examples/with-requirements needs humanize==4.11.0, which is not installed here "
    "and these tests stay offline (PIP_NO_INDEX=1); "
    "test_replica_runs_in_the_built_environment covers the same path with a local wheel",
)
def test_with_requirements_example(tmp_path: Path, start_replica: Launcher) -> None:
    python = ensure_environment(tmp_path, ("humanize==4.11.0",), print)
    replica = start_replica(EXAMPLES / "with-requirements", python=python)
    assert replica.predict({"bytes": 3_000_000}).json() == {"size": "3.0 MB"}
