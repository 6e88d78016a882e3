"""The deployment's environment: `environment` in `__init__`, `setup_environment`, changes.

The replica reads its environment from BRACE_ENVIRONMENT and is told of a change with
`POST /brace/environment`; these tests play the server's part on real replicas.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from brace.errors import InvalidError
from brace.runtime.environment import parse_environment
from tests.conftest import MakeTruss
from tests.runtime.conftest import Launcher, Replica, Reply, replica_env

ENVIRONMENT = "/brace/environment"

READS_NAME_IN_LOAD = """\
class Model:
    def __init__(self, **kwargs):
        self._environment = kwargs["environment"]

    def load(self):
        self._name = self._environment.get("name")

    def predict(self, model_input):
        return {"name": self._name}
"""

RECORDS_SETUP = """\
import os


class Model:
    def __init__(self, environment=None):
        self._init_environment = environment
        self.calls = []
        self.order = []

    def setup_environment(self, environment):
        if environment and environment.get("name") == "broken":
            raise ValueError("cannot set up broken")
        self.calls.append(environment)
        self.order.append("setup_environment")

    def load(self):
        self.order.append("load")

    def predict(self, model_input):
        return {"init": self._init_environment, "calls": self.calls, "order": self.order,
                "pid": os.getpid()}
"""

ASYNC_SETUP = """\
import asyncio


class Model:
    def __init__(self):
        self.calls = []

    async def setup_environment(self, environment):
        await asyncio.sleep(0.01)
        self.calls.append(environment["name"] if environment else None)

    def predict(self, model_input):
        return self.calls
"""

NO_SETUP = """\
class Model:
    def __init__(self, environment):
        self._environment = environment

    def load(self):
        self.loads = LOADS

    def predict(self, model_input):
        return {"environment": self._environment, "loads": self.loads}


LOADS = 1
"""


def with_environment(value: Any) -> dict[str, str]:
    return replica_env(extra={"BRACE_ENVIRONMENT": json.dumps(value)})


def change(replica: Replica, value: Any) -> Reply:
    return replica.request("POST", ENVIRONMENT, json.dumps(value).encode())


def state(replica: Replica) -> dict[str, Any]:
    reply = replica.predict({})
    assert reply.status == 200, replica.log()
    result: dict[str, Any] = reply.json()
    return result


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(None, None, id="absent"),
        pytest.param("", None, id="empty"),
        pytest.param("null", None, id="null"),
        pytest.param('{"name": "production"}', {"name": "production"}, id="mapping"),
        pytest.param(b'{"name": "staging", "x": 1}', {"name": "staging", "x": 1}, id="bytes"),
    ],
)
def test_parse_environment(text: str | bytes | None, expected: Any) -> None:
    assert parse_environment(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("{nope", "the environment is not valid JSON: ", id="not-json"),
        pytest.param('"production"', "must be a JSON object or null, not str", id="string"),
        pytest.param("[1]", "must be a JSON object or null, not list", id="list"),
    ],
)
def test_parse_environment_refuses(text: str, message: str) -> None:
    with pytest.raises(InvalidError) as raised:
        parse_environment(text)
    assert message in raised.value.message


def test_init_gets_the_environment_before_load(
    make_truss: MakeTruss, start_replica: Launcher
) -> None:
    truss = make_truss("reads", model=READS_NAME_IN_LOAD)
    replica = start_replica(truss, env=with_environment({"name": "production"}))
    assert state(replica) == {"name": "production"}


def test_setup_environment_runs_before_load_with_the_initial_environment(
    make_truss: MakeTruss, start_replica: Launcher
) -> None:
    truss = make_truss("initial", model=RECORDS_SETUP)
    replica = start_replica(truss, env=with_environment({"name": "staging"}))
    got = state(replica)
    assert got["init"] == {"name": "staging"}
    assert got["calls"] == [{"name": "staging"}]
    assert got["order"] == ["setup_environment", "load"]


def test_in_no_environment_setup_environment_waits_for_one(
    make_truss: MakeTruss, start_replica: Launcher
) -> None:
    # As Truss: without an environment, setup_environment is not called before load().
    replica = start_replica(make_truss("none", model=RECORDS_SETUP))
    got = state(replica)
    assert (got["init"], got["calls"], got["order"]) == (None, [], ["load"])


def test_a_change_calls_setup_environment_in_the_running_replica(
    make_truss: MakeTruss, start_replica: Launcher
) -> None:
    replica = start_replica(make_truss("promoted", model=RECORDS_SETUP))
    pid = state(replica)["pid"]

    promoted = change(replica, {"name": "production"})
    assert (promoted.status, promoted.json()) == (200, {"environment": {"name": "production"}})
    got = state(replica)
    assert got["calls"] == [{"name": "production"}]
    assert got["pid"] == pid  # no new process
    assert got["init"] is None  # what __init__ was given does not change (as in Truss)

    again = change(replica, {"name": "production"})  # unchanged: not called again
    assert (again.status, state(replica)["calls"]) == (200, [{"name": "production"}])

    left = change(replica, None)
    assert (left.status, left.json()) == (200, {"environment": None})
    assert state(replica)["calls"] == [{"name": "production"}, None]
    assert "Executing model.setup_environment with environment: None" in replica.log()


def test_a_failing_setup_environment_answers_500_and_keeps_serving(
    make_truss: MakeTruss, start_replica: Launcher
) -> None:
    replica = start_replica(
        make_truss("broken", model=RECORDS_SETUP), env=with_environment({"name": "staging"})
    )
    failed = change(replica, {"name": "broken"})
    assert failed.status == 500
    assert failed.json() == {
        "error": "setup_environment() failed: ValueError: cannot set up broken",
        "environment": {"name": "staging"},
    }
    assert state(replica)["calls"] == [{"name": "staging"}]
    assert "ValueError: cannot set up broken" in replica.log()
    assert 'model/model.py", line' in replica.log()  # the user's traceback
    # Not recorded: the same change can be sent again, and a good one still applies.
    assert change(replica, {"name": "broken"}).status == 500
    assert change(replica, {"name": "production"}).status == 200


def test_a_bad_body_is_400(make_truss: MakeTruss, start_replica: Launcher) -> None:
    replica = start_replica(make_truss("bad", model=RECORDS_SETUP))
    reply = replica.request("POST", ENVIRONMENT, b'["production"]')
    assert (reply.status, reply.json()) == (
        400,
        {"error": "the environment must be a JSON object or null, not list"},
    )


def test_an_async_setup_environment_is_awaited(
    make_truss: MakeTruss, start_replica: Launcher
) -> None:
    replica = start_replica(
        make_truss("async-setup", model=ASYNC_SETUP), env=with_environment({"name": "staging"})
    )
    assert change(replica, {"name": "production"}).status == 200
    assert replica.predict({}).json() == ["staging", "production"]


def test_a_new_instance_after_a_change_gets_the_current_environment(
    make_truss: MakeTruss, start_replica: Launcher
) -> None:
    truss = make_truss("later", model=NO_SETUP)
    replica = start_replica(truss, env=with_environment({"name": "staging"}))
    assert change(replica, {"name": "production"}).status == 200
    assert state(replica) == {"environment": {"name": "staging"}, "loads": 1}
    # A reload that builds a new instance (what load() reads changed): its __init__ gets
    # the environment as it is now, as Truss's would when it constructs the model.
    (truss / "model" / "model.py").write_text(NO_SETUP.replace("LOADS = 1", "LOADS = 2"))
    reloaded = replica.request("POST", "/brace/reload")
    assert reloaded.json()["mode"] == "new-instance", reloaded.body
    assert state(replica) == {"environment": {"name": "production"}, "loads": 2}


SLOW_LOAD = RECORDS_SETUP.replace(
    '        self.order.append("load")',
    '        import time\n        time.sleep(0.5)\n        self.order.append("load")',
)


def test_a_change_during_the_first_load_applies_once_it_loaded(
    make_truss: MakeTruss, start_replica: Launcher
) -> None:
    replica = start_replica(make_truss("slow", model=SLOW_LOAD), wait=False)
    assert replica.first_answer().status == 503  # still loading
    answers: list[Reply] = []
    thread = threading.Thread(target=lambda: answers.append(change(replica, {"name": "p"})))
    thread.start()
    thread.join(10)
    assert answers and answers[0].status == 200
    replica.wait_ready()
    got = state(replica)
    assert (got["calls"], got["order"]) == ([{"name": "p"}], ["load", "setup_environment"])


def test_an_invalid_environment_variable_stops_the_replica(
    make_truss: MakeTruss, start_replica: Launcher
) -> None:
    replica = start_replica(
        make_truss("invalid", model=RECORDS_SETUP),
        env=replica_env(extra={"BRACE_ENVIRONMENT": "production"}),
        wait=False,
    )
    assert replica.wait_exit() == 5
    assert "the environment is not valid JSON" in replica.log()
