"""Start-up of a replica: serving before load() ends, and exiting when loading fails."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.conftest import MakeTruss
from tests.runtime.conftest import Launcher, Replica, write_truss

SLOW_LOAD = """\
import time


class Model:
    def load(self):
        time.sleep(1)

    def predict(self, model_input):
        return model_input
"""

FAILING_LOAD = """\
def helper(path):
    raise FileNotFoundError(f"no weights at {path}")


class Model:
    def __init__(self, **kwargs):
        pass

    def load(self):
        helper("data/weights.bin")

    def predict(self, model_input):
        return model_input
"""


def test_readiness_is_503_while_loading_then_200(
    make_truss: MakeTruss, start_replica: Launcher
) -> None:
    replica = start_replica(make_truss("slow", model=SLOW_LOAD), wait=False)
    first = replica.first_answer()
    assert (first.status, first.json()) == (503, {"error": "model is loading"})
    assert replica.request("GET", "/").status == 200  # alive while loading
    early = replica.predict({"x": 1})
    assert (early.status, early.json()) == (503, {"error": "model is loading"})
    replica.wait_ready()
    assert replica.readiness().json() == {"name": "model", "ready": True}
    assert replica.predict({"x": 1}).json() == {"x": 1}
    assert re.search(r"Model loaded in (1\d{3}|[2-9]\d{3}) ms", replica.log())


BROKEN = {
    "syntax-error": "class Model:\n    def predict(self, x)\n        return x\n",
    "import-error": "import no_such_module_anywhere\n",
    "no-model-class": "class Other:\n    pass\n",
    "init-raises": (
        "class Model:\n    def __init__(self, config):\n        config['nope']\n"
        "    def predict(self, x):\n        return x\n"
    ),
    "bad-predict-signature": "class Model:\n    def predict(self, a, b, c):\n        return a\n",
    "no-predict": "class Model:\n    def load(self):\n        pass\n",
    "failing-load": FAILING_LOAD,
    # A thread that never ends must not keep a failed replica alive.
    "thread-then-raise": (
        "import threading, time\n"
        "class Model:\n"
        "    def load(self):\n"
        "        threading.Thread(target=time.sleep, args=(3600,)).start()\n"
        "        raise RuntimeError('gave up')\n"
        "    def predict(self, x):\n"
        "        return x\n"
    ),
}


@pytest.fixture(scope="module")
def broken(
    module_replicas: Launcher, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, tuple[Path, Replica]]:
    """Every broken model, started at once (they all fail at about the same time)."""
    root = tmp_path_factory.mktemp("broken")
    trusses = {
        name: write_truss(root / name, "model_name: b\n", model) for name, model in BROKEN.items()
    }
    trusses["bad-config"] = write_truss(
        root / "bad-config", "runtime:\n  predict_concurrency: 0\n", "class Model: pass\n"
    )
    return {name: (path, module_replicas(path, wait=False)) for name, path in trusses.items()}


def test_load_failure_exits_1_with_the_users_traceback(
    broken: dict[str, tuple[Path, Replica]],
) -> None:
    truss, replica = broken["failing-load"]
    assert replica.wait_exit() == 1
    log = replica.log()
    model_file = str(truss / "model" / "model.py")
    assert "running load() (model/model.py) failed" in log
    assert f'File "{model_file}", line 10, in load' in log
    assert f'File "{model_file}", line 2, in helper' in log
    assert "FileNotFoundError: no weights at data/weights.bin" in log
    assert "brace/runtime" not in log
    assert "site-packages" not in log
    assert not replica.socket_path.exists()


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param(
            "syntax-error",
            ["importing the model file (model/model.py) failed", "SyntaxError"],
            id="syntax-error",
        ),
        pytest.param(
            "import-error",
            ["ModuleNotFoundError: No module named 'no_such_module_anywhere'", "line 1"],
            id="import-error",
        ),
        pytest.param(
            "no-model-class",
            ["defines no class 'Model' (set model_class_name in config.yaml)"],
            id="no-model-class",
        ),
        pytest.param(
            "init-raises",
            ["constructing the model (model/model.py) failed", "KeyError: 'nope'"],
            id="init-raises",
        ),
        pytest.param(
            "bad-predict-signature",
            ["checking the model's methods", "at most two arguments"],
            id="bad-predict-signature",
        ),
        pytest.param("no-predict", ["has no `predict` method"], id="no-predict"),
        pytest.param("thread-then-raise", ["RuntimeError: gave up"], id="stray-thread"),
    ],
)
def test_broken_models_exit_1_and_say_why(
    broken: dict[str, tuple[Path, Replica]], name: str, expected: list[str]
) -> None:
    _, replica = broken[name]
    assert replica.wait_exit() == 1
    log = replica.log()
    for text in expected:
        assert text in log
    assert "brace/runtime" not in log


def test_invalid_config_exits_with_the_config_error(
    broken: dict[str, tuple[Path, Replica]],
) -> None:
    _, replica = broken["bad-config"]
    assert replica.wait_exit() == 5
    assert (
        "field 'runtime.predict_concurrency': expected a whole number from 1 to 10000"
        in replica.log()
    )


def test_sigterm_stops_cleanly_with_status_0(
    make_truss: MakeTruss, start_replica: Launcher
) -> None:
    replica = start_replica(make_truss("term"))
    assert replica.predict({"a": 1}).status == 200
    replica.process.terminate()
    assert replica.wait_exit(10) == 0
    assert not replica.socket_path.exists()


def test_async_load_runs_on_the_serving_loop(
    make_truss: MakeTruss, start_replica: Launcher
) -> None:
    model = """\
import asyncio


class Model:
    async def load(self):
        self._lock = asyncio.Lock()  # bound to the loop that serves requests
        await asyncio.sleep(0.05)

    async def predict(self, model_input):
        async with self._lock:
            return {"ok": model_input}
"""
    replica = start_replica(make_truss("async-load", model=model))
    assert replica.predict([1]).json() == {"ok": [1]}


def test_user_print_reaches_the_log_at_once(make_truss: MakeTruss, start_replica: Launcher) -> None:
    model = """\
class Model:
    def predict(self, model_input):
        print("printed", model_input)
        return None
"""
    replica = start_replica(make_truss("printer", model=model))
    reply = replica.predict("hello")
    assert (reply.status, json.loads(reply.body)) == (200, None)
    assert "printed hello" in replica.log()  # line-buffered even though it is a file
