"""Shared fixtures: a private brace home, Truss directories, and two ways to run the CLI.

`cli` runs `brace` in this process through the real entry point (fast; exit code,
stdout and stderr as a user sees them). `brace_process` runs it as a real subprocess,
for what only a separate process shows (concurrency, start-up, signals).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from brace.cli.app import main
from brace.cli.common import Output, session
from brace.services.promotion_steps import advance_promotions, finish_promotion
from brace.store import Deployment, DeploymentStatus, Store, Tx

ECHO_MODEL = """\
class Model:
    def __init__(self, **kwargs):
        pass

    def load(self):
        pass

    def predict(self, model_input):
        return {"echo": model_input}
"""


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty brace home, also set as BRACE_HOME for the CLI."""
    path = tmp_path / "brace-home"
    monkeypatch.setenv("BRACE_HOME", str(path))
    monkeypatch.delenv("BRACE_API_KEY", raising=False)
    monkeypatch.delenv("BRACE_HOST", raising=False)
    # Commands only record; the tests that want a server start one (and stop it).
    monkeypatch.setenv("BRACE_AUTOSTART", "0")
    # A port nothing listens on, so no test ever talks to a server it did not start.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        monkeypatch.setenv("BRACE_PORT", str(probe.getsockname()[1]))
    return path


@pytest.fixture
def store(home: Path) -> Iterator[Store]:
    with Store(home) as opened:
        yield opened


def come_up(tx: Tx, deployment: Deployment) -> Deployment:
    """What the server's controller does once `deployment` is up: it becomes ACTIVE, and
    a non-rolling promotion waiting for it finishes (its environment switches to it)."""
    active = tx.update_deployment(deployment, status=DeploymentStatus.ACTIVE)
    for environment in tx.environments(active.model_id):
        promotion = tx.latest_promotion(active.model_id, environment.name)
        if (
            promotion is not None
            and promotion.candidate_id == active.id
            and not promotion.rolling
            and not promotion.status.finished
        ):
            finish_promotion(tx, promotion)
    return active


def settle_promotions(store: Store) -> None:
    """One step of the server's controller over the promotions in progress (no server, so
    a failure's message carries no log lines)."""
    with store.transaction() as tx:
        advance_promotions(tx)


MakeTruss = Callable[..., Path]


@pytest.fixture
def make_truss(tmp_path: Path) -> MakeTruss:
    """Write a Truss directory: make_truss("name", config="...yaml...", model="...py...")."""

    def make(
        name: str = "hello",
        config: str | None = None,
        model: str | None = ECHO_MODEL,
        files: dict[str, str] | None = None,
    ) -> Path:
        directory = tmp_path / "trusses" / name
        (directory / "model").mkdir(parents=True, exist_ok=True)
        text = config if config is not None else f"model_name: {name}\n"
        (directory / "config.yaml").write_text(textwrap.dedent(text))
        if model is not None:
            (directory / "model" / "model.py").write_text(model)
        for relative, content in (files or {}).items():
            target = directory / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content)
        return directory

    return make


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


Cli = Callable[..., Result]


@pytest.fixture
def cli(home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Cli:
    """Run `brace ARGS...` in-process through main(); returns exit code and output."""

    def run(*args: str | os.PathLike[str]) -> Result:
        capsys.readouterr()
        session.output = Output.text
        monkeypatch.setattr(sys, "argv", ["brace", *map(str, args)])
        code = 0
        try:
            main()
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
        out, err = capsys.readouterr()
        return Result(code, out, err)

    return run


@pytest.fixture
def brace_process(home: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run `python -m brace ARGS...` as a subprocess with this test's home."""

    def run(*args: str | os.PathLike[str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "BRACE_HOME": str(home)}
        return subprocess.run(
            [sys.executable, "-m", "brace", *map(str, args)],
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout,
        )

    return run
