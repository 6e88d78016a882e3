"""Virtualenvs for models with `requirements`, built once per requirement set.

A deployment without requirements runs on brace's own interpreter. One with
requirements gets `<home>/envs/<key>`, where the key is a hash of the sorted
requirement lines, so every deployment with the same set shares one environment.

The environment is *layered* on brace's: a `.pth` file in its site-packages appends
brace's own site-packages (and source root), so brace, starlette and uvicorn import
there without being installed again, while the model's requirements (installed into
the venv, which comes first on sys.path) win over brace's copies. pip runs from the
layer too, so no pip is installed into each venv; it sees brace's packages as
installed and leaves them alone (it never uninstalls outside the venv's prefix).

A half-built environment is never used: it is built in a staging directory, a marker
file is written last, and only then is it renamed into place. A lock file makes
concurrent builders of the same set wait for the first one instead of racing it.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
import venv
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import brace
from brace.errors import BraceError
from brace.home import ensure_private_dir

ENVS = "envs"
MARKER = "brace-env.json"
REQUIREMENTS = "brace-requirements.txt"
LAYER = "_brace_layer.pth"
PIP_OUTPUT_TAIL = 40


class BuildFailed(BraceError):
    """Installing a model's requirements failed; the message ends with pip's output."""


def environment_key(requirements: tuple[str, ...]) -> str:
    text = "\n".join(sorted(requirements))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def environment_python(env: Path) -> Path:
    return env / "bin" / "python"


def brace_layer() -> str:
    """The `.pth` text that makes brace and its dependencies importable from a venv.

    brace's site directories are added with `site.addsitedir`, so their own `.pth`
    files run as they do for brace (an editable install of brace is such a hook);
    brace's source root comes last, for a brace run from a checkout.
    """
    site_dirs = dict.fromkeys(
        os.path.abspath(sysconfig.get_path(name)) for name in ("purelib", "platlib")
    )
    source_root = str(Path(brace.__file__).resolve().parent.parent)
    lines = [f"import site; site.addsitedir({path!r})" for path in site_dirs]
    if source_root not in site_dirs:
        lines.append(source_root)
    return "".join(f"{line}\n" for line in lines)


def ensure_environment(
    home: Path, requirements: tuple[str, ...], log: Callable[[str], None]
) -> Path:
    """The python to run a replica with: brace's own, or the venv for `requirements`."""
    if not requirements:
        return Path(sys.executable)
    envs = ensure_private_dir(home / ENVS)
    key = environment_key(requirements)
    target = envs / key
    if _complete(target):
        return environment_python(target)
    with _locked(envs / f".{key}.lock"):
        if _complete(target):  # built by someone else while we waited
            return environment_python(target)
        started = time.monotonic()
        log(f"Building environment {key} for {len(requirements)} requirement(s)")
        staging = Path(tempfile.mkdtemp(prefix=f".staging-{key}-", dir=envs))
        try:
            _build(staging, requirements, prompt=f"brace-{key}")
            _relocate(staging, target)
            marker = {"requirements": sorted(requirements), "python": sys.version.split()[0]}
            (staging / MARKER).write_text(json.dumps(marker, indent=2) + "\n")  # last
            if target.exists():  # a remnant without a marker: never complete, replace it
                shutil.rmtree(target)
            staging.rename(target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        log(f"Environment {key} ready in {time.monotonic() - started:.1f} s")
    return environment_python(target)


def _complete(env: Path) -> bool:
    return (env / MARKER).is_file() and environment_python(env).exists()


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _site_packages(env: Path) -> Path:
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    return env / "lib" / version / "site-packages"


def _build(env: Path, requirements: tuple[str, ...], prompt: str) -> None:
    # Without pip when brace's environment has one to lend (saves seconds per build).
    with_pip = importlib.util.find_spec("pip") is None
    venv.EnvBuilder(with_pip=with_pip, symlinks=True, clear=True, prompt=prompt).create(env)
    site_packages = _site_packages(env)
    (site_packages / LAYER).write_text(brace_layer())
    requirements_file = env / REQUIREMENTS
    requirements_file.write_text("".join(f"{line}\n" for line in sorted(requirements)))
    command = [
        str(environment_python(env)),
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "-r",
        str(requirements_file),
    ]
    result = subprocess.run(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        env={**os.environ, "PIP_NO_INPUT": "1"},
    )
    if result.returncode != 0:
        tail = "\n".join(result.stdout.rstrip().splitlines()[-PIP_OUTPUT_TAIL:])
        raise BuildFailed(
            f"installing requirements failed (pip exited with {result.returncode}):\n{tail}",
            "Check the requirements in config.yaml; the lines above are pip's output.",
        )


def _relocate(staging: Path, target: Path) -> None:
    """Point scripts built in `staging` (shebangs, activate) at their final place."""
    old, new = str(staging).encode(), str(target).encode()
    for path in (staging / "bin").iterdir():
        if path.is_symlink() or not path.is_file():
            continue
        content = path.read_bytes()
        if old in content:
            path.write_bytes(content.replace(old, new))
