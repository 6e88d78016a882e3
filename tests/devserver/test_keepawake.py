"""`brace watch` keeps the development deployment awake with a lease in the store."""

from __future__ import annotations

import time

from brace.devserver.keepawake import KeepAwake
from brace.services.push import push
from brace.store import Store
from brace.store.db import stamp, utc_now
from tests.conftest import MakeTruss


def _lease(store: Store, deployment_id: str) -> str | None:
    with store.read() as tx:
        found = tx.deployment(deployment_id)
    assert found is not None
    return found.awake_until


def test_the_lease_is_held_renewed_and_released(store: Store, make_truss: MakeTruss) -> None:
    deployment = push(store, make_truss("hello")).deployment
    assert _lease(store, deployment.id) is None
    with KeepAwake(store.home, lambda: deployment.id, lease=30, renew=0.05):
        deadline = time.monotonic() + 5
        while _lease(store, deployment.id) is None:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        first = _lease(store, deployment.id)
        assert first is not None and first > stamp(utc_now())  # held, ahead of now
        while _lease(store, deployment.id) == first:  # renewed
            assert time.monotonic() < deadline
            time.sleep(0.01)
    released = _lease(store, deployment.id)
    assert released is not None and released <= stamp(utc_now())


def test_a_lease_on_a_deleted_deployment_is_harmless(store: Store, make_truss: MakeTruss) -> None:
    with KeepAwake(store.home, lambda: "missing1", lease=30, renew=0.01):
        time.sleep(0.05)
