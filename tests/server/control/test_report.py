"""Each deployment's report (status, counts, serving and failed revisions) and how a
tick and a stopping server write it."""

from __future__ import annotations

import pytest

from brace.server.control.replicas import ReplicaState as R
from brace.server.control.report import (
    Report,
    compare_and_set,
    leave_asleep,
    replica_counts,
    report_of,
    serving_revision,
)
from brace.server.control.runs import GaveUp, Preparing, Runnable, RunState, Unprepared
from brace.services.push import push
from brace.store import DeploymentStatus as D
from brace.store import Store
from tests.conftest import MakeTruss
from tests.server.control.replicas_for_tests import deployment, replica

FAILED = GaveUp(D.DEPLOY_FAILED, "the model failed to start 3 times")


@pytest.mark.parametrize(
    ("status", "state", "replicas", "wanted", "expected"),
    [
        pytest.param(D.DEPLOYING, Unprepared(), [], 1, (D.DEPLOYING, 0, 0, 0, 1), id="nothing"),
        pytest.param(
            D.DEPLOYING, Preparing(building=True), [], 1, (D.BUILDING, 0, 0, 0, 1), id="building"
        ),
        pytest.param(
            D.DEPLOYING, Preparing(), [("loading", R.LOADING, 2)], 1,
            (D.LOADING_MODEL, 0, 0, 0, 1), id="loading",
        ),
        pytest.param(
            D.LOADING_MODEL, Unprepared(), [("a", R.READY, 2), ("b", R.READY, 2)], 2,
            (D.ACTIVE, 2, 2, 0, 2), id="ready",
        ),
        pytest.param(
            D.ACTIVE, Unprepared(), [("old", R.READY, 1), ("new", R.LOADING, 2)], 1,
            (D.UPDATING, 1, 1, 0, 1), id="new-revision-previous-serves",
        ),
        pytest.param(
            D.ACTIVE, FAILED, [("old", R.READY, 1)], 1, (D.ACTIVE, 1, 1, 2, 1),
            id="failed-revision-previous-serves",
        ),
        pytest.param(D.ACTIVE, FAILED, [], 0, (D.DEPLOY_FAILED, 0, 0, 2, 0), id="failed"),
        pytest.param(D.ACTIVE, Unprepared(), [], 0, (D.SCALED_TO_ZERO, 0, 0, 0, 0), id="asleep"),
    ],
)  # fmt: skip
def test_report_of(
    status: D,
    state: RunState,
    replicas: list[tuple[str, R, int]],
    wanted: int,
    expected: tuple[D, int, int, int, int],
) -> None:
    found = [replica(*r) for r in replicas]
    assert report_of(deployment(status), state, found, wanted).columns() == expected


def test_counts_and_serving_revision() -> None:
    replicas = [
        replica("old", R.READY, 1),
        replica("new", R.READY, 3),
        replica("loading", R.LOADING, 2),
        replica("starting", R.STARTING, 2),
        replica("draining", R.DRAINING, 2),
    ]
    counts = replica_counts(deployment(revision=2), replicas)
    assert (counts.ready, counts.ready_old, counts.loading, counts.starting) == (0, 2, 1, 1)
    assert serving_revision(deployment(revision=2), replicas) == 3
    assert serving_revision(deployment(), []) == 0


def test_a_report_changes_only_when_a_column_does() -> None:
    d = deployment(D.ACTIVE)
    assert not Report(d, D.ACTIVE, 0, 0, 0, 0).changes()
    assert Report(d, D.ACTIVE, 1, 0, 0, 0).changes()
    assert Report(d, D.SCALED_TO_ZERO, 0, 0, 0, 0).changes()


def test_compare_and_set_skips_a_deployment_changed_meanwhile(
    store: Store, make_truss: MakeTruss
) -> None:
    seen = push(store, make_truss("hello")).deployment
    with store.transaction() as tx:
        assert compare_and_set(tx, Report(seen, D.ACTIVE, 1, 1, 0, 1))
        written = tx.deployment(seen.id)
        assert written is not None
        assert (written.status, written.active_replica_count, written.serving_revision) == (
            D.ACTIVE,
            1,
            1,
        )
        # A report made from the deployment as it was before: a user changed it since.
        assert not compare_and_set(tx, Report(seen, D.LOADING_MODEL, 0, 0, 0, 1))
        assert tx.deployment(seen.id) == written


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        pytest.param(D.ACTIVE, D.SCALED_TO_ZERO, id="active-sleeps"),
        pytest.param(D.UPDATING, D.SCALED_TO_ZERO, id="updating-sleeps"),
        pytest.param(D.WAKING_UP, D.SCALED_TO_ZERO, id="waking-sleeps"),
        pytest.param(D.DEPLOYING, D.DEPLOYING, id="deploying-stays"),
        pytest.param(D.INACTIVE, D.INACTIVE, id="inactive-stays"),
        pytest.param(D.DEPLOY_FAILED, D.DEPLOY_FAILED, id="failed-stays"),
    ],
)
def test_leave_asleep(store: Store, make_truss: MakeTruss, status: D, expected: D) -> None:
    pushed = push(store, make_truss("hello")).deployment
    with store.transaction() as tx:
        tx.update_deployment(pushed, status=status, active_replica_count=2, serving_revision=1)
        leave_asleep(tx)
        left = tx.deployment(pushed.id)
    assert left is not None
    assert (left.status, left.active_replica_count, left.serving_revision) == (expected, 0, 0)


def test_runnable_reports_like_unprepared(make_truss: MakeTruss) -> None:
    """The run's state matters only when it builds or gave up."""
    from brace.config import load_truss

    runnable = Runnable("python", load_truss(make_truss("hello")))
    replicas = [replica("a", R.READY, 2)]
    assert (
        report_of(deployment(), runnable, replicas, 1).columns()
        == report_of(deployment(), Unprepared(), replicas, 1).columns()
    )
