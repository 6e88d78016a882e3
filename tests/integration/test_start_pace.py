"""A server started on a home with many deployments that must run starts their
replicas at a bounded pace (`brace server --start-concurrency`), not all at once.

Real server, real replica processes: each model records when its `load()` began and
ended in one file, and loads for long enough that replicas started together overlap.
"""

from __future__ import annotations

import itertools
from pathlib import Path

from brace.services import deployments
from brace.services.push import push
from brace.store import Store
from tests.conftest import MakeTruss
from tests.integration.conftest import Server, free_port, start_server, stop_server, wait_until

LOADING = """
import os
import time


class Model:
    def __init__(self, **kwargs):
        pass

    def load(self):
        with open({path!r}, "a") as out:
            out.write(f"start {{os.getpid()}} {{time.time()}}\\n")
        time.sleep(0.4)
        with open({path!r}, "a") as out:
            out.write(f"end {{os.getpid()}} {{time.time()}}\\n")

    def predict(self, model_input):
        return model_input
"""


def loads(path: Path) -> list[tuple[float, float]]:
    """Each replica's load() as (start, end), in start order; only finished ones."""
    starts: dict[str, float] = {}
    spans = []
    for line in path.read_text().splitlines() if path.exists() else []:
        kind, pid, at = line.split()
        if kind == "start":
            starts[pid] = float(at)
        else:
            spans.append((starts[pid], float(at)))
    return sorted(spans)


def test_replicas_start_one_at_a_time_with_start_concurrency_1(
    tmp_path: Path, make_truss: MakeTruss
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    record = tmp_path / "loads.txt"
    with Store(home) as store:
        for name in ("first", "second", "third"):
            truss = make_truss(name, model=LOADING.format(path=str(record)))
            pushed = push(store, truss, publish=True).deployment
            deployments.set_autoscaling(store, pushed.id, {"min_replica": 1})
    port = free_port()
    process = start_server(home, port, "--start-concurrency", "1")
    server = Server(home, port, process)
    try:
        spans = wait_until(lambda: len(found := loads(record)) == 3 and found, 60, "3 loads")
        for (_, end), (start, _) in itertools.pairwise(spans):
            assert start >= end, f"two replicas loaded at once: {spans}"
    finally:
        stop_server(process, server.replica_pids())
