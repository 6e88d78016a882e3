"""Which replicas start and which drain to meet a deployment's replica target."""

from __future__ import annotations

import pytest

from brace.server.control.changes import ReplicaChanges, replica_changes, strays
from brace.server.control.replicas import ReplicaState as R
from brace.server.control.targets import ReplicaTarget
from brace.store.statuses import DeploymentStatus as D
from tests.server.control.replicas_for_tests import deployment, replica

# Replicas by name: state and revision (the deployment's current revision is 2).
REPLICAS = {
    "old-ready": (R.READY, 1),
    "old-ready-2": (R.READY, 1),
    "old-loading": (R.LOADING, 1),
    "ready": (R.READY, 2),
    "ready-2": (R.READY, 2),
    "loading": (R.LOADING, 2),
    "starting": (R.STARTING, 2),
    "draining": (R.DRAINING, 2),
    "stopping": (R.STOPPING, 1),
}


@pytest.mark.parametrize(
    ("status", "names", "target", "gave_up", "drained", "missing"),
    [
        pytest.param(D.DEPLOYING, [], ReplicaTarget(2, 1), False, [], 1, id="first-replica"),
        pytest.param(D.ACTIVE, ["ready"], ReplicaTarget(2, 3), False, [], 2, id="scale-up"),
        pytest.param(D.ACTIVE, ["ready"], ReplicaTarget(2, 1), False, [], 0, id="met"),
        pytest.param(
            D.ACTIVE, ["ready", "draining"], ReplicaTarget(2, 1), False, [], 0,
            id="draining-ones-do-not-count",
        ),
        pytest.param(
            D.ACTIVE, ["ready", "loading", "ready-2"], ReplicaTarget(2, 1), False,
            ["loading", "ready-2"], 0, id="scale-down-unready-first-then-youngest",
        ),
        pytest.param(
            D.ACTIVE, ["old-ready", "old-ready-2", "old-loading"], ReplicaTarget(2, 1, previous=1),
            False, ["old-ready-2", "old-loading"], 1, id="new-revision-keeps-previous-ready",
        ),
        pytest.param(
            D.ACTIVE, ["old-ready", "ready"], ReplicaTarget(2, 1), False, ["old-ready"], 0,
            id="previous-drains-once-not-kept",
        ),
        pytest.param(
            D.ACTIVE, ["old-loading", "stopping"], ReplicaTarget(2, 1, previous=1), False,
            ["old-loading"], 1, id="previous-kept-only-if-ready",
        ),
        pytest.param(
            D.ACTIVE, ["ready", "loading"], ReplicaTarget(2, 0), False, ["loading", "ready"], 0,
            id="to-zero-removal-order",
        ),
        pytest.param(
            D.INACTIVE, ["ready", "loading"], ReplicaTarget(2, 0), False, ["ready", "loading"], 0,
            id="deactivated-all-in-start-order",
        ),
        pytest.param(
            D.ACTIVE, ["ready", "starting"], ReplicaTarget(2, 0), True, ["ready", "starting"], 0,
            id="gave-up-all-in-start-order",
        ),
    ],
)  # fmt: skip
def test_replica_changes(
    status: D,
    names: list[str],
    target: ReplicaTarget,
    gave_up: bool,
    drained: list[str],
    missing: int,
) -> None:
    replicas = [replica(n, *REPLICAS[n]) for n in names]
    changes = replica_changes(deployment(status), target, replicas, gave_up)
    assert ([r.id for r in changes.drain], changes.missing) == (drained, missing)


def test_no_change_by_default() -> None:
    assert ReplicaChanges() == ReplicaChanges((), 0)


def test_strays_are_the_replicas_of_deleted_deployments() -> None:
    kept = replica("a", R.READY, deployment_id="kept")
    gone = replica("b", R.DRAINING, deployment_id="gone")
    assert strays([kept, gone], {"kept"}) == [gone]
