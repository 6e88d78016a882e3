"""Through a real `brace server`: a sleeping model whose model.py imports a
third-party module at top level wakes in a replica forked by the fork server that
had imported it (the module is already loaded before the replica's fork)."""

from __future__ import annotations

from pathlib import Path

import psutil
import pytest

from tests.conftest import MakeTruss
from tests.integration.conftest import Server
from tests.integration.test_autoscaling import publish, wait_asleep
from tests.server.backends.test_forkservers import PACKAGES, model_importing


@pytest.fixture
def server_env(tmp_path: Path) -> dict[str, str]:
    site = tmp_path / "site"
    for name, text in PACKAGES.items():
        (site / name).parent.mkdir(parents=True, exist_ok=True)
        (site / name).write_text(text)
    return {"PYTHONPATH": str(site)}


def test_a_sleeping_model_wakes_from_the_fork_server_that_preloaded_its_imports(
    server: Server, make_truss: MakeTruss
) -> None:
    deployment_id = publish(
        server,
        make_truss("heavy", config="model_name: heavy\n", model=model_importing("heavymod")),
        *("--min-replica", "0", "--autoscaling-window", "1", "--scale-down-delay", "1"),
    )
    # The preloaded fork server starts at the deployment's first launch and imports
    # heavymod meanwhile; until it is ready a wake forks from brace's own. Under load
    # that can outlast the first sleep: sleep and wake again until it serves a wake.
    for _ in range(5):
        wait_asleep(server, deployment_id)
        answer = server.post(f"/model/heavy/deployment/{deployment_id}/predict", {})
        assert answer.status == 200, answer.body
        woken = answer.json()
        fork_server = psutil.Process(woken["ppid"])
        if fork_server.cmdline()[-1] == "heavymod":
            break
    assert fork_server.cmdline()[-2:] == ["brace.runtime.forkserver", "heavymod"]
    assert fork_server.ppid() == server.process.pid
    assert woken["imported_by"] == fork_server.pid != woken["pid"]
