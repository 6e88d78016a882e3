"""runtime.predict_concurrency: predicts beyond the limit wait for a free slot.

With a limit of 1 the model records when each predict started and ended (one process,
one clock) and the test checks their order. With a limit of 2 the model waits at a
barrier for a second predict, which only comes if the two really run at once. Neither
test depends on how fast anything was.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.runtime.conftest import Launcher, Replica, UnixHTTPConnection, write_truss

SLOW = """\
import time


class Model:
    def predict(self, model_input):
        started = time.monotonic()
        time.sleep(0.3)
        return {"id": model_input, "started": started, "ended": time.monotonic()}
"""

ASYNC_SLOW = """\
import asyncio
import time


class Model:
    async def predict(self, model_input):
        started = time.monotonic()
        await asyncio.sleep(0.3)
        return {"id": model_input, "started": started, "ended": time.monotonic()}
"""


MEET = """\
import threading


class Model:
    def __init__(self, **kwargs):
        self._barrier = threading.Barrier(2, timeout=10)

    def predict(self, model_input):
        self._barrier.wait()  # raises (-> 500) unless two predicts run at once
        return {"id": model_input, "met": True}
"""


@pytest.fixture(scope="module")
def replicas(
    module_replicas: Launcher, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Replica]:
    root = tmp_path_factory.mktemp("concurrency")
    configs = {
        "sync-1": (SLOW, 1),
        "meet-2": (MEET, 2),
        "async-1": (ASYNC_SLOW, 1),
    }
    started = {
        name: module_replicas(
            write_truss(
                root / name, f"model_name: c\nruntime:\n  predict_concurrency: {limit}\n", model
            ),
            wait=False,
        )
        for name, (model, limit) in configs.items()
    }
    return {name: replica.wait_ready() for name, replica in started.items()}


def two_at_once(replica: Replica) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    barrier = threading.Barrier(2)

    def call(index: int) -> None:
        barrier.wait()
        reply = replica.predict(index)
        assert reply.status == 200
        results.append(reply.json())

    threads = [threading.Thread(target=call, args=(index,)) for index in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(results) == 2
    return sorted(results, key=lambda result: result["id"])


@pytest.mark.parametrize("name", ["sync-1", "async-1"])
def test_concurrency_1_serializes_predicts(replicas: dict[str, Replica], name: str) -> None:
    first, second = sorted(two_at_once(replicas[name]), key=lambda result: result["started"])
    assert second["started"] >= first["ended"]


def test_concurrency_2_runs_two_predicts_at_once(replicas: dict[str, Replica]) -> None:
    assert two_at_once(replicas["meet-2"]) == [{"id": 0, "met": True}, {"id": 1, "met": True}]


COUNTED = """\
import time


class Model:
    def __init__(self, **kwargs):
        self.ran = []

    def predict(self, model_input):
        self.ran.append(model_input)
        if model_input == "slow":
            time.sleep(0.6)
        return {"ran": self.ran}
"""


def test_a_request_whose_client_left_while_it_waited_for_a_slot_never_runs(
    start_replica: Launcher, tmp_path: Path
) -> None:
    replica = start_replica(
        write_truss(tmp_path / "counted", "model_name: c\n", COUNTED)  # predict_concurrency 1
    )
    with ThreadPoolExecutor(1) as pool:
        slow = pool.submit(replica.predict, "slow")
        time.sleep(0.2)  # the slow one holds the only slot
        connection = UnixHTTPConnection(replica.socket_path)
        connection.request("POST", "/v1/models/model:predict", body=b'"gone"')
        time.sleep(0.1)  # waiting for the slot
        connection.close()  # its client leaves, as the gateway tells it
        assert slow.result(5).json() == {"ran": ["slow"]}
    assert replica.predict("next").json() == {"ran": ["slow", "next"]}
