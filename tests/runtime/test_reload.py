"""Live reload: `POST /brace/reload` on a real replica, and the class-swap decision.

The decision (keepstate.may_keep_instance) is a pure function of two classes, tested as
a table on classes compiled from source text. Everything else runs against replica
processes: edit the Truss on disk, ask for a reload, check the answer, what predict
returns next, the version, and that a failure leaves the old code serving.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from brace.runtime.keepstate import may_keep_instance
from tests.conftest import MakeTruss
from tests.runtime.conftest import Launcher, Replica, Reply, write_truss

RELOAD = "/brace/reload"

# Same size for every one-character version: the stale-bytecode trap needs that.
VERSIONED = """\
import time


class Model:
    def load(self):
        self.weights = time.monotonic_ns()
        self.calls = 0

    def predict(self, model_input):
        self.calls += 1
        if isinstance(model_input, dict) and "sleep" in model_input:
            time.sleep(model_input["sleep"])
        return {"v": "v1", "weights": self.weights, "calls": self.calls}
"""


def versioned(version: str, load_extra: str = "") -> str:
    text = VERSIONED.replace('"v1"', f'"{version}"')
    if load_extra:
        text = text.replace("        self.calls = 0\n", f"        self.calls = 0\n{load_extra}")
    return text


def reload(replica: Replica) -> Reply:
    return replica.request("POST", RELOAD)


def model_file(truss: Path) -> Path:
    return truss / "model" / "model.py"


def value(replica: Replica) -> Any:
    reply = replica.predict(None)
    assert reply.status == 200, reply.body
    return reply.json()["v"]


def assert_applied(reply: Reply, version: int, mode: str) -> None:
    assert reply.status == 200, reply.body
    body = reply.json()
    assert (body["applied"], body["version"], body["mode"]) == (True, version, mode)
    assert isinstance(body["ms"], float) and body["ms"] >= 0


def assert_failed(reply: Reply, version: int, stage: str) -> dict[str, Any]:
    assert reply.status == 422, reply.body
    body: dict[str, Any] = reply.json()
    assert body.keys() == {"applied", "version", "stage", "error", "traceback"}
    assert (body["applied"], body["version"], body["stage"]) == (False, version, stage)
    assert "\n" not in body["error"]
    return body


# ---------------------------------------------------------------------------------------
# The decision: keep the live instance (class-swap) or build a new one.


def compile_module(source: str, namespace: dict[str, object] | None = None) -> ModuleType:
    module = ModuleType("model")
    module.__dict__.update(namespace or {})
    exec(compile(source, "/truss/model/model.py", "exec"), module.__dict__)
    return module


BASE = """\
MODEL_ID = "small"
CACHE = {}


def build(name):
    return [name]


class Net:
    def __init__(self):
        self.size = 2

    def forward(self, x):
        return x


class Base:
    def load(self):
        self.base = True


class Model(Base):
    def __init__(self, **kwargs):
        self.config = kwargs.get("config")

    def load(self):
        super().load()
        self.weights = build(MODEL_ID)
        self.net = Net()
        self._warm()
        self.predict("warm-up")

    def _warm(self, times=1):
        return times

    def _format(self, result):
        return {"result": result}

    def predict(self, model_input):
        return self._format(model_input)
"""


@pytest.mark.parametrize(
    ("old", "new", "keep"),
    [
        pytest.param(BASE, BASE, True, id="same-text"),
        pytest.param(
            BASE, BASE.replace('{"result": result}', '{"out": result}'), True, id="predict-helper"
        ),
        pytest.param(BASE, BASE.replace("return x", "return -x"), False, id="class-load-made"),
        pytest.param(BASE, "# a comment moves every line\n\n" + BASE, True, id="moved-lines"),
        pytest.param(
            BASE, BASE.replace("return self._format(", "return ("), True, id="predict-itself"
        ),
        pytest.param(BASE, BASE.replace('"small"', '"large"'), False, id="constant-load-reads"),
        pytest.param(BASE, BASE.replace("[name]", "[name, name]"), False, id="function-load-calls"),
        pytest.param(
            BASE, BASE.replace("self.base = True", "self.base = 1"), False, id="base-load"
        ),
        pytest.param(BASE, BASE.replace("times=1", "times=2"), False, id="helper-default"),
        pytest.param(BASE, BASE.replace("self.size = 2", "self.size = 3"), False, id="net-init"),
        pytest.param(
            BASE, BASE.replace('kwargs.get("config")', 'kwargs.get("secrets")'), False, id="init"
        ),
        pytest.param(
            BASE,
            BASE.replace("self._warm()\n", "self._warm()\n        self.extra = 1\n"),
            False,
            id="load-body",
        ),
        pytest.param(
            BASE, BASE.replace("self.weights =", "self.w ="), False, id="load-attribute-name"
        ),
        pytest.param(
            BASE + "\n    def setup_environment(self, environment):\n        self.env = 1\n",
            BASE + "\n    def setup_environment(self, environment):\n        self.env = 2\n",
            False,
            id="setup-environment",
        ),
    ],
)
def test_class_swap_only_when_construction_is_unchanged(old: str, new: str, keep: bool) -> None:
    old_class, new_class = compile_module(old).Model, compile_module(new).Model
    assert may_keep_instance(old_class, new_class) is keep


def test_a_helper_module_that_load_uses_counts() -> None:
    model = "class Model:\n    def load(self):\n        self.w = helpers.make()\n"
    helper = "def make():\n    return {}\n"
    old_helpers, same_helpers = compile_module(helper), compile_module(helper)
    new_helpers = compile_module(helper.replace("{}", "[]"))
    old = compile_module(model, {"helpers": old_helpers}).Model
    assert may_keep_instance(old, compile_module(model, {"helpers": same_helpers}).Model)
    assert not may_keep_instance(old, compile_module(model, {"helpers": new_helpers}).Model)


def test_state_load_left_in_module_globals_is_not_kept() -> None:
    source = (
        "PIPELINE = None\n\nclass Model:\n    def load(self):\n        global PIPELINE\n"
        "        PIPELINE = object()\n    def predict(self, x):\n        return PIPELINE\n"
    )
    old = compile_module(source).Model
    old().load()  # the live module now holds what load() made; a fresh import does not
    assert not may_keep_instance(old, compile_module(source).Model)


# ---------------------------------------------------------------------------------------
# Real replicas.


def test_an_edit_is_served_by_the_next_predict(
    make_truss: MakeTruss, start_replica: Launcher
) -> None:
    truss = make_truss("edit", model=versioned("v1"))
    replica = start_replica(truss)
    unchanged = reload(replica)
    assert unchanged.status == 200
    assert unchanged.json()["applied"] is False and unchanged.json()["mode"] == "unchanged"
    assert unchanged.json()["version"] == 1

    model_file(truss).write_text(versioned("v2"))
    assert_applied(reload(replica), 2, "class-swap")
    assert value(replica) == "v2"
    again = reload(replica).json()
    assert (again["applied"], again["version"], again["mode"]) == (False, 2, "unchanged")
    assert "Reloaded in " in replica.log() and "(version 2, class-swap)" in replica.log()


def test_same_size_edits_within_one_second_are_all_seen(
    make_truss: MakeTruss, start_replica: Launcher
) -> None:
    truss = make_truss("trap", model=versioned("v0"))
    path = model_file(truss)
    stat = path.stat()
    replica = start_replica(truss)
    for n in range(1, 11):
        path.write_text(versioned(f"v{n % 10}"))
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same size, same mtime
        assert_applied(reload(replica), n + 1, "class-swap")
        assert value(replica) == f"v{n % 10}"
    assert not (truss / "model" / "__pycache__").exists()


def test_a_syntax_error_keeps_the_old_code_and_the_version(
    make_truss: MakeTruss, start_replica: Launcher
) -> None:
    truss = make_truss("syntax", model=versioned("v1"))
    replica = start_replica(truss)
    model_file(truss).write_text(versioned("v2"))
    assert_applied(reload(replica), 2, "class-swap")

    model_file(truss).write_text(
        versioned("v3").replace("def predict(self, model_input):", "def predict(self model_input):")
    )
    body = assert_failed(reload(replica), 2, "import")
    assert body["error"].startswith("SyntaxError: ") and "line 9" in body["error"]
    assert 'model.py", line 9' in body["traceback"]
    assert "def predict(self model_input):" in body["traceback"]
    assert value(replica) == "v2"
    assert replica.readiness().status == 200
    assert "Reload failed (import): SyntaxError" in replica.log()
    assert_failed(reload(replica), 2, "import")  # still broken: tried again, not "unchanged"

    model_file(truss).write_text(versioned("v3"))
    assert_applied(reload(replica), 3, "class-swap")
    assert value(replica) == "v3"


def test_back_to_the_serving_text_is_unchanged(
    make_truss: MakeTruss, start_replica: Launcher
) -> None:
    truss = make_truss("revert", model=versioned("v1"))
    replica = start_replica(truss)
    model_file(truss).write_text("class Model(:\n")
    assert_failed(reload(replica), 1, "import")
    model_file(truss).write_text(versioned("v1"))
    assert reload(replica).json()["mode"] == "unchanged"


LOAD_RAISES = "        raise RuntimeError('no weights here')\n"


@pytest.fixture(scope="module")
def failing(
    module_replicas: Launcher, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Replica]:
    """One replica serving v1 for the failure table; each case breaks the file anew."""
    truss = write_truss(tmp_path_factory.mktemp("failing"), "model_name: f\n", versioned("v1"))
    return truss, module_replicas(truss)


@pytest.mark.parametrize(
    ("source", "stage", "error"),
    [
        pytest.param(
            "import nowhere_to_be_found\n", "import", "ModuleNotFoundError: ", id="import"
        ),
        pytest.param(
            versioned("v2").replace("class Model:", "class Other:"),
            "import",
            "AttributeError: ",
            id="missing-class",
        ),
        pytest.param(
            versioned("v2").replace("def predict(", "def forecast("),
            "definition",
            "the model class Model has no `predict` method",
            id="definition-on-class-swap",
        ),
        pytest.param(
            versioned("v2").replace(
                "    def load(self):",
                "    def __init__(self):\n        1 / 0\n\n    def load(self):",
            ),
            "construct",
            "ZeroDivisionError: division by zero (model/model.py, line 6)",
            id="construct",
        ),
        pytest.param(
            versioned("v2", LOAD_RAISES),
            "load",
            "RuntimeError: no weights here (model/model.py, line 8)",
            id="load",
        ),
    ],
)
def test_a_failed_reload_names_its_stage_and_keeps_serving(
    failing: tuple[Path, Replica], source: str, stage: str, error: str
) -> None:
    truss, replica = failing
    model_file(truss).write_text(source)
    body = assert_failed(reload(replica), 1, stage)
    assert body["error"].startswith(error)
    assert "brace/runtime" not in body["traceback"]
    assert value(replica) == "v1"
    assert replica.readiness().status == 200
    assert f"Reload failed ({stage}): {body['error']}" in replica.log()


def test_class_swap_keeps_what_load_made_and_a_load_edit_rebuilds(
    make_truss: MakeTruss, start_replica: Launcher
) -> None:
    truss = make_truss("state", model=versioned("v1"))
    replica = start_replica(truss)
    before = replica.predict(None).json()
    model_file(truss).write_text(versioned("v2"))
    assert_applied(reload(replica), 2, "class-swap")
    after = replica.predict(None).json()
    assert (after["v"], after["weights"], after["calls"]) == ("v2", before["weights"], 2)

    model_file(truss).write_text(versioned("v2", "        self.calls = 10\n"))
    assert_applied(reload(replica), 3, "new-instance")
    rebuilt = replica.predict(None).json()
    assert rebuilt["weights"] != before["weights"] and rebuilt["calls"] == 11


def test_a_slow_load_serves_the_old_version_until_the_swap(
    make_truss: MakeTruss, start_replica: Launcher
) -> None:
    truss = make_truss("slow", model=versioned("v1"))
    replica = start_replica(truss)
    answers: list[tuple[float, int, Any]] = []
    ready: list[int] = []
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            reply = replica.predict(None)
            answers.append((time.monotonic(), reply.status, reply.json().get("v")))
            ready.append(replica.readiness().status)

    poller = threading.Thread(target=poll)
    poller.start()
    try:
        while not answers:
            time.sleep(0.01)
        model_file(truss).write_text(versioned("v2", "        time.sleep(1)\n"))
        started = time.monotonic()
        reply = reload(replica)
        swapped = time.monotonic()
        assert_applied(reply, 2, "new-instance")
        assert reply.json()["ms"] >= 1000
        time.sleep(0.1)
    finally:
        stop.set()
        poller.join()
    assert {status for _, status, _ in answers} == {200} and set(ready) == {200}
    during = [v for at, _, v in answers if started + 0.1 < at < swapped - 0.1]
    assert during and set(during) == {"v1"}  # the old model answered while load() ran
    versions = [v for _, _, v in answers]
    first_new = versions.index("v2")
    assert set(versions[:first_new]) == {"v1"} and set(versions[first_new:]) == {"v2"}


def test_a_request_in_flight_finishes_on_the_code_it_started_with(
    make_truss: MakeTruss, start_replica: Launcher
) -> None:
    truss = make_truss("inflight", model=versioned("v1"))
    replica = start_replica(truss)
    result: list[Reply] = []
    slow = threading.Thread(target=lambda: result.append(replica.predict({"sleep": 0.5})))
    slow.start()
    time.sleep(0.15)
    model_file(truss).write_text(versioned("v2"))
    assert_applied(reload(replica), 2, "class-swap")
    assert value(replica) == "v2"
    slow.join()
    assert result[0].status == 200 and result[0].json()["v"] == "v1"


PACKAGED = """\
import helper


class Model:
    def predict(self, model_input):
        return {"v": helper.VALUE}
"""


def test_an_edit_in_packages_is_picked_up(make_truss: MakeTruss, start_replica: Launcher) -> None:
    truss = make_truss("pkg", model=PACKAGED, files={"packages/helper.py": 'VALUE = "h1"\n'})
    replica = start_replica(truss)
    assert value(replica) == "h1"
    (truss / "packages" / "helper.py").write_text('VALUE = "h2"\n')
    assert_applied(reload(replica), 2, "class-swap")
    assert value(replica) == "h2"

    # A module that did not exist when the replica started.
    (truss / "packages" / "extra.py").write_text('VALUE = "e1"\n')
    model_file(truss).write_text(PACKAGED.replace("import helper", "import extra as helper"))
    assert_applied(reload(replica), 3, "class-swap")
    assert value(replica) == "e1"


SIBLING = """\
from model.util import helper, load_value


class Model:
    def load(self):
        self.loaded = load_value()

    def predict(self, model_input):
        return {"v": helper(), "loaded": self.loaded}
"""

UTIL = """\
def helper():
    return "u1"


def load_value():
    return "l1"
"""


def test_an_edit_in_a_sibling_module_of_the_model_is_picked_up(
    make_truss: MakeTruss, start_replica: Launcher
) -> None:
    # model/util.py is `model.util`, imported from model.py as Truss's server allows.
    truss = make_truss("sibling", model=SIBLING, files={"model/util.py": UTIL})
    replica = start_replica(truss)
    assert replica.predict(None).json() == {"v": "u1", "loaded": "l1"}
    util = truss / "model" / "util.py"
    util.write_text(UTIL.replace('"u1"', '"u2"'))
    assert_applied(reload(replica), 2, "class-swap")  # only predict's helper changed
    assert replica.predict(None).json() == {"v": "u2", "loaded": "l1"}
    util.write_text(UTIL.replace('"u1"', '"u2"').replace('"l1"', '"l2"'))
    assert_applied(reload(replica), 3, "new-instance")  # what load() calls changed
    assert replica.predict(None).json() == {"v": "u2", "loaded": "l2"}
    assert not (truss / "model" / "__pycache__").exists()


SLOW_IMPORT = """\
import time

time.sleep(0.4)


class Model:
    def predict(self, model_input):
        return {"v": "v1"}
"""


def test_concurrent_reloads_all_answer_and_the_newest_text_wins(
    make_truss: MakeTruss, start_replica: Launcher
) -> None:
    """Every import takes 0.4 s. Timeline (s): 0 write v2 and ask (A); 0.15 write v3, so
    A's re-check fails and it imports again (v3); 0.6 write v4 and ask twice (B, C)
    while A's second attempt runs; A applies v3, then B and C share one reload of v4."""
    truss = make_truss("concurrent", model=SLOW_IMPORT)
    replica = start_replica(truss)
    replies: dict[str, Reply] = {}

    def ask(name: str) -> threading.Thread:
        thread = threading.Thread(target=lambda: replies.__setitem__(name, reload(replica)))
        thread.start()
        return thread

    def write(version: str) -> None:
        model_file(truss).write_text(SLOW_IMPORT.replace('"v1"', f'"{version}"'))

    write("v2")
    asked = [ask("A")]
    time.sleep(0.15)
    write("v3")
    time.sleep(0.45)
    write("v4")
    asked += [ask("B"), ask("C")]
    for thread in asked:
        thread.join()
    assert_applied(replies["A"], 2, "class-swap")
    assert_applied(replies["B"], 3, "class-swap")
    assert_applied(replies["C"], 3, "class-swap")
    assert replica.log().count("Source files changed while reloading; reloading again") == 1
    assert value(replica) == "v4"
    assert json.loads(reload(replica).body)["mode"] == "unchanged"


ASYNC_LOAD = """\
import asyncio


class Model:
    async def load(self):
        self.loop = asyncio.get_running_loop()
        self.generation = 1

    async def predict(self, model_input):
        same_loop = asyncio.get_running_loop() is self.loop
        return {"v": self.generation, "same_loop": same_loop}
"""


def test_an_async_load_runs_on_the_serving_loop(
    make_truss: MakeTruss, start_replica: Launcher
) -> None:
    truss = make_truss("async", model=ASYNC_LOAD)
    replica = start_replica(truss)
    model_file(truss).write_text(ASYNC_LOAD.replace("generation = 1", "generation = 2"))
    assert_applied(reload(replica), 2, "new-instance")
    assert replica.predict(None).json() == {"v": 2, "same_loop": True}


def test_a_reload_during_the_first_load_waits_for_it(
    make_truss: MakeTruss, start_replica: Launcher
) -> None:
    marker = '        open(__file__ + ".loading", "w").close()\n        time.sleep(0.5)\n'
    slow = versioned("v1", marker)
    truss = make_truss("first", model=slow)
    replica = start_replica(truss, wait=False)
    deadline = time.monotonic() + 10
    while not (truss / "model" / "model.py.loading").exists():  # load() has begun
        assert time.monotonic() < deadline, replica.log()
        time.sleep(0.01)
    assert replica.readiness().status == 503
    model_file(truss).write_text(slow.replace('"v1"', '"v2"'))
    assert_applied(reload(replica), 2, "class-swap")
    assert value(replica) == "v2"


def test_a_fifo_among_the_sources_does_not_hang_a_reload(
    make_truss: MakeTruss, start_replica: Launcher
) -> None:
    """Hashing the sources opened every `.py` file: a FIFO blocked the reload forever,
    and a `.py` link to /dev/zero read until memory ran out. Neither is a source file."""
    truss = make_truss("fifo", model=versioned("v1"))
    replica = start_replica(truss)
    os.mkfifo(truss / "model" / "pipe.py")
    (truss / "model" / "zeros.py").symlink_to("/dev/zero")

    unchanged = reload(replica)  # the client gives up after 10 s: a hang fails here

    assert (unchanged.status, unchanged.json()["mode"]) == (200, "unchanged")
    model_file(truss).write_text(versioned("v2"))
    assert_applied(reload(replica), 2, "class-swap")
    assert value(replica) == "v2"
