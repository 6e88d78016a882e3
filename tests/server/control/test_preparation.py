"""Preparing a revision: its model directory read, its environment built, or why not."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from brace.errors import BraceError
from brace.logs import DeploymentLog
from brace.server.control.preparation import Preparation
from brace.server.control.runs import GaveUp, Runnable, RunState
from brace.store import DeploymentStatus as D
from tests.conftest import MakeTruss
from tests.server.control.replicas_for_tests import deployment


def _prepare(preparation: Preparation, source: Path, log: DeploymentLog) -> tuple[RunState, int]:
    """The state a development deployment pushed from `source` is prepared to, and how
    many times a build was announced."""
    calls: list[int] = []
    development = replace(deployment(), source_dir=str(source))
    state = asyncio.run(preparation.prepare(development, log, lambda: calls.append(1)))
    return state, len(calls)


def _builder(
    result: Path | BraceError,
) -> Callable[[Path, tuple[str, ...], Callable[[str], None]], Path]:
    def build(home: Path, requirements: tuple[str, ...], log: Callable[[str], None]) -> Path:
        log(f"building {', '.join(requirements)}")
        if isinstance(result, BraceError):
            raise result
        return result

    return build


def test_no_requirements_runs_on_the_server_python(
    home: Path, tmp_path: Path, make_truss: MakeTruss
) -> None:
    log = DeploymentLog(tmp_path / "d.log")
    state, building = _prepare(Preparation(home, python="server-python"), make_truss(), log)
    assert isinstance(state, Runnable)
    assert (state.python, building) == ("server-python", 0)


def test_requirements_build_an_environment(
    home: Path, tmp_path: Path, make_truss: MakeTruss
) -> None:
    truss_dir = make_truss("hello", config="model_name: hello\nrequirements:\n  - six\n")
    log = DeploymentLog(tmp_path / "d.log")
    preparation = Preparation(home, build=_builder(Path("/envs/e/bin/python")))
    state, building = _prepare(preparation, truss_dir, log)
    assert isinstance(state, Runnable)
    assert (state.python, building) == ("/envs/e/bin/python", 1)
    assert "building six" in log.path.read_text()


def test_a_failed_build_is_build_failed(home: Path, tmp_path: Path, make_truss: MakeTruss) -> None:
    truss_dir = make_truss("hello", config="model_name: hello\nrequirements:\n  - six\n")
    log = DeploymentLog(tmp_path / "d.log")
    preparation = Preparation(home, build=_builder(BraceError("no index reachable")))
    state, building = _prepare(preparation, truss_dir, log)
    assert (state, building) == (GaveUp(D.BUILD_FAILED, "no index reachable"), 1)
    assert "building the environment failed: no index reachable" in log.path.read_text()


def test_an_unreadable_model_is_deploy_failed(home: Path, tmp_path: Path) -> None:
    log = DeploymentLog(tmp_path / "d.log")
    state, building = _prepare(Preparation(home), tmp_path / "missing", log)
    assert isinstance(state, GaveUp)
    assert (state.status, building) == (D.DEPLOY_FAILED, 0)
    assert "cannot read the model" in log.path.read_text()
