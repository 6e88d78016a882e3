"""Baseten's rolling-deployments page, run against `brace server` as written.

The curl and Python (`requests`) examples are read from the page itself
(`BRACE_REFERENCE_DIR`, by default the `shared/reference` folder beside the checkout)
and run with only the base URL, the model id and the key changed, as a script written
for Baseten would be. Skipped, saying so, where the page is not on disk.
"""

from __future__ import annotations

import ast
import contextlib
import io
import json
import os
import re
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pytest

from brace.store import RolloutAction, Store
from tests.conftest import MakeTruss
from tests.integration.conftest import Server, wait_until

ROOT = Path(__file__).resolve().parents[2]
PAGE = (
    Path(os.environ.get("BRACE_REFERENCE_DIR", ROOT.parent / "shared" / "reference"))
    / "baseten-rolling-deployments.md"
)
BASETEN = "https://api.baseten.co"

pytestmark = pytest.mark.skipif(not PAGE.exists(), reason=f"{PAGE} is not on this machine")

_FENCE = re.compile(r"^ *```(bash|python)[^\n]*\n(.*?)^ *```", re.S | re.M)


def examples() -> dict[tuple[str, str], str]:
    """(section title, language) -> the example's code, from the page."""
    text = PAGE.read_text()
    found: dict[tuple[str, str], str] = {}
    for match in _FENCE.finditer(text):
        before = text[: match.start()]
        section = re.findall(r"^#{2,3} (.+)$", before, re.M)[-1]
        found[(section, match.group(1))] = textwrap.dedent(match.group(2))
    return found


class Script:
    """Runs the page's examples the way their reader would: curl in a shell with
    BASETEN_API_KEY set, Python snippets one after another in one namespace."""

    def __init__(self, server: Server, model_id: str) -> None:
        self.base = f"http://127.0.0.1:{server.port}"
        self.model_id = model_id
        key = server.brace("api-key").stdout.strip()
        self.env = {**os.environ, "BASETEN_API_KEY": key}
        self.namespace: dict[str, Any] = {}
        self.code = examples()

    def _local(self, code: str) -> str:
        return code.replace(BASETEN, self.base).replace("{model_id}", self.model_id)

    def run(self, section: str, language: str) -> Any:
        code = self._local(self.code[(section, language)])
        if language == "bash":
            done = subprocess.run(
                ["bash", "-c", code], env=self.env, capture_output=True, text=True, timeout=30
            )
            assert done.returncode == 0, done.stderr
            return json.loads(done.stdout)
        printed = io.StringIO()
        saved = dict(os.environ)
        os.environ.update(self.env)
        try:
            with contextlib.redirect_stdout(printed):
                exec(compile(code, f"<{section} example>", "exec"), self.namespace)
        finally:
            os.environ.clear()
            os.environ.update(saved)
        return ast.literal_eval(printed.getvalue().strip())


def _environment(server: Server, model_id: str) -> dict[str, Any]:
    return server.json("environments", "show", "production", "-m", model_id)  # type: ignore[no-any-return]


def _promote(server: Server, directory: Path, version: int) -> None:
    (directory / "model" / "model.py").write_text(
        "class Model:\n    def predict(self, model_input):\n"
        f"        return {{'version': {version}}}\n"
    )
    server.json("push", directory, "--promote", "--no-wait")


def _promotion(server: Server, model_id: str) -> dict[str, Any]:
    return _environment(server, model_id)["in_progress_promotion"]  # type: ignore[no-any-return]


def _ended(server: Server, model_id: str) -> str:
    def finished() -> str | None:
        status = _promotion(server, model_id)["status"]
        return status if status in ("SUCCEEDED", "FAILED", "CANCELED") else None

    return wait_until(finished, 60, "the promotion to end")  # type: ignore[no-any-return]


def test_the_pages_examples_do_what_the_page_says(server: Server, make_truss: MakeTruss) -> None:
    directory = make_truss("hello")
    model_id = server.json("push", directory, "--promote", "--wait")["model"]["id"]
    script = Script(server, model_id)

    # Enabling rolling deployments: both examples set the same settings.
    for language in ("bash", "python"):
        answer = script.run("Enabling rolling deployments", language)
        settings = answer["environment"]["promotion_settings"]
        assert settings["rolling_deploy"] is True
        assert settings["rolling_deploy_config"]["stabilization_time_seconds"] == 60
    assert _environment(server, model_id)["promotion_settings"]["rolling_deploy"] is True

    version = 1
    for language in ("bash", "python"):
        # Pause and resume are recorded for the controller, applied between steps;
        # force roll forward finishes the promotion at once.
        version += 1
        _promote(server, directory, version)
        assert script.run("Pause", language) == {"success": True}
        assert _pending(server) is RolloutAction.PAUSE
        assert script.run("Resume", language) == {"success": True}
        assert _pending(server) is RolloutAction.RESUME
        assert script.run("Force roll forward", language) == {"success": True}
        assert _ended(server, model_id) == "SUCCEEDED"
        # Cancel: a rolling promotion ramps down gracefully, at the end of its current
        # step and back along its steps with each cycle's stabilization time (the
        # page's 60 s, once traffic has moved); force cancel then ends it at once.
        version += 1
        _promote(server, directory, version)
        wait_until(
            lambda: _promotion(server, model_id)["percent_traffic_to_new_version"] == 100,
            30,
            "traffic",
        )
        assert script.run("Cancel", language)["status"] == "RAMPING_DOWN"
        assert _promotion(server, model_id)["status"] in ("RAMPING_UP", "RAMPING_DOWN")
        assert script.run("Force cancel", language) == {"success": True}
        assert _ended(server, model_id) == "CANCELED"
        # Force cancel: all traffic back at once.
        version += 1
        _promote(server, directory, version)
        assert script.run("Force cancel", language) == {"success": True}
        assert _ended(server, model_id) == "CANCELED"

    # Deployment cleanup: the strategy is set alongside the other settings.
    for language in ("bash", "python"):
        answer = script.run("Deployment cleanup", language)
        settings = answer["environment"]["promotion_settings"]
        assert settings["promotion_cleanup_strategy"] == "DEACTIVATE"
        assert settings["rolling_deploy"] is True  # partial updates are merged


def _pending(server: Server) -> RolloutAction | None:
    with Store(server.home) as store, store.read() as tx:
        [promotion] = tx.active_promotions()
    return promotion.requested_action
