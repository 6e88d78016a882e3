"""runtime.predict_concurrency: predicts beyond the limit wait for a free slot.

The model records when each predict started and ended (one process, one clock), so
the test checks ordering, never how fast anything was.
"""

from __future__ import annotations

import threading

import pytest

from tests.runtime.conftest import Launcher, Replica, write_truss

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


@pytest.fixture(scope="module")
def replicas(
    module_replicas: Launcher, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Replica]:
    root = tmp_path_factory.mktemp("concurrency")
    configs = {
        "sync-1": (SLOW, 1),
        "sync-2": (SLOW, 2),
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


def two_at_once(replica: Replica) -> list[dict[str, float]]:
    results: list[dict[str, float]] = []
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
    return sorted(results, key=lambda result: result["started"])


@pytest.mark.parametrize("name", ["sync-1", "async-1"])
def test_concurrency_1_serializes_predicts(replicas: dict[str, Replica], name: str) -> None:
    first, second = two_at_once(replicas[name])
    assert second["started"] >= first["ended"]


def test_concurrency_2_overlaps_predicts(replicas: dict[str, Replica]) -> None:
    first, second = two_at_once(replicas["sync-2"])
    assert second["started"] < first["ended"]
