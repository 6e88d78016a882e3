"""Jobs for the concurrency tests, run in spawned processes.

Kept apart from the test module so a child imports only brace's store and services,
not pytest and the CLI.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path

from brace.services import environments
from brace.services.push import push
from brace.store import Store
from brace.store.db import new_id

PER_WORKER = 10


def run(results: Queue[str], barrier: Barrier, job: Callable[..., None], *args: object) -> None:
    """Wait for every worker, run `job`, report "ok" or the traceback."""
    try:
        barrier.wait(timeout=60)
        job(*args)
        results.put("ok")
    except BaseException:
        results.put(traceback.format_exc())


def create_environments(home: str, worker: int) -> None:
    with Store(Path(home)) as store:
        for number in range(PER_WORKER):
            environments.create(store, f"env-{worker}-{number}", "hello")


def publish(home: str, directory: str, count: int) -> None:
    with Store(Path(home)) as store:
        for _ in range(count):
            push(store, directory, publish=True)


def open_and_write(home: str) -> None:
    with Store(Path(home)) as store, store.transaction() as tx:
        tx.insert_model(f"opened-{new_id()}")
