"""The development deployment as the watch sees it: when a new revision serves."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from brace.devserver.target import (
    DeploymentState,
    DevelopmentTarget,
    Progress,
    ReplacementFailed,
    ReplicaRef,
    progress,
)
from brace.services.push import push
from brace.store import DeploymentStatus, ReplicaProcess, Store
from brace.store.db import new_id
from tests.conftest import MakeTruss

S = DeploymentStatus


def _state(
    status: S, serving: int = 0, failed: int = 0, *replica_revisions: int
) -> DeploymentState:
    replicas = tuple(ReplicaRef(r, Path(f"/s/{r}.sock")) for r in replica_revisions)
    return DeploymentState(status, 2, replicas, serving, failed)


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        pytest.param(_state(S.ACTIVE, 1), Progress.WAITING, id="push-not-seen-yet"),
        pytest.param(_state(S.UPDATING, 1), Progress.WAITING, id="updating"),
        pytest.param(_state(S.BUILDING, 1), Progress.WAITING, id="building"),
        pytest.param(_state(S.ACTIVE, 2), Progress.READY, id="new-one-serves"),
        pytest.param(_state(S.ACTIVE, 3), Progress.READY, id="a-newer-one-serves"),
        pytest.param(_state(S.DEPLOYING), Progress.WAITING, id="first-start"),
        pytest.param(_state(S.LOADING_MODEL), Progress.WAITING, id="first-load"),
        pytest.param(_state(S.ACTIVE, 1, 2), Progress.FAILED, id="back-on-the-old-one"),
        pytest.param(_state(S.ACTIVE, 1, 1), Progress.WAITING, id="an-older-one-failed"),
        pytest.param(_state(S.DEPLOY_FAILED, 0, 2), Progress.FAILED, id="deploy-failed"),
        pytest.param(_state(S.BUILD_FAILED), Progress.FAILED, id="build-failed"),
        pytest.param(_state(S.INACTIVE), Progress.FAILED, id="deactivated"),
        pytest.param(_state(S.SCALED_TO_ZERO), Progress.READY, id="scaled-to-zero"),
    ],
)
def test_progress(state: DeploymentState, expected: Progress) -> None:
    assert progress(state, 2) is expected


@pytest.mark.parametrize(
    ("state", "reason"),
    [
        pytest.param(
            _state(S.SCALED_TO_ZERO),
            "the development deployment is scaled to zero: its next start loads it",
            id="scaled-to-zero",
        ),
        pytest.param(
            _state(S.DEPLOYING),
            "no replica is running yet (DEPLOYING): its start loads it",
            id="starting",
        ),
        pytest.param(
            _state(S.DEPLOY_FAILED),
            "the development deployment is DEPLOY_FAILED: nothing runs to reload",
            id="failed",
        ),
    ],
)
def test_idle_reason(state: DeploymentState, reason: str) -> None:
    assert state.idle_reason() == reason


def test_sockets_are_those_of_the_current_revision() -> None:
    assert _state(S.UPDATING, 1, 0, 1, 2).sockets == (Path("/s/2.sock"),)


@dataclass(frozen=True)
class Step:
    """What the server's controller reports at one tick."""

    status: S
    serving: int = 0
    failed: int = 0
    ready: tuple[int, ...] = ()
    """Revisions of the ready replicas."""
    loading: tuple[int, ...] = ()
    """Revisions of replicas recorded but not ready."""


def _controller(store: Store, deployment_id: str, steps: list[Step]) -> Callable[[float], None]:
    """A `sleep` that plays the server's controller: each call applies the next step."""
    remaining = list(steps)

    def sleep(seconds: float) -> None:
        if not remaining:
            return
        step = remaining.pop(0)
        with store.transaction() as tx:
            found = tx.deployment(deployment_id)
            assert found is not None
            tx.update_deployment(
                found,
                status=step.status,
                serving_revision=step.serving,
                failed_revision=step.failed,
            )
            for replica in tx.replicas():
                tx.delete_replica(replica.id)
            for revision, ready in [(r, True) for r in step.ready] + [
                (r, False) for r in step.loading
            ]:
                replica_id = new_id()
                tx.insert_replica(
                    ReplicaProcess(
                        replica_id,
                        deployment_id,
                        revision,
                        1,
                        0.0,
                        f"/s/{replica_id}",
                        tx.now(),
                        ready,
                    )
                )

    return sleep


def _target(store: Store, directory: Path, steps: list[Step]) -> DevelopmentTarget:
    deployment = push(store, directory).deployment
    with store.transaction() as tx:
        found = tx.deployment(deployment.id)
        assert found is not None
        tx.update_deployment(found, status=S.ACTIVE)
    return DevelopmentTarget(
        store, directory, "hello", deployment.id, sleep=_controller(store, deployment.id, steps)
    )


def test_wait_follows_the_new_revision_until_it_serves(store: Store, make_truss: MakeTruss) -> None:
    target = _target(
        store,
        make_truss("hello"),
        [
            Step(S.ACTIVE, 1, 0, (1,)),  # the controller has not seen the push yet
            Step(S.UPDATING, 1, 0, (1,)),
            Step(S.UPDATING, 1, 0, (1,), (2,)),
            # A row of the new replica may be written before or after the status.
            Step(S.ACTIVE, 1, 0, (1,), (2,)),
            Step(S.ACTIVE, 2, 0, (1, 2)),
        ],
    )
    revision = target.push()
    assert revision == 2
    seen: list[str] = []
    state = target.wait(revision, seen.append)
    assert (state.status, state.revision, len(state.sockets)) == (S.ACTIVE, 2, 1)
    assert seen == ["ACTIVE", "UPDATING", "ACTIVE"]


def test_wait_fails_when_the_old_replica_keeps_serving(store: Store, make_truss: MakeTruss) -> None:
    target = _target(
        store,
        make_truss("hello"),
        [
            Step(S.UPDATING, 1, 0, (1,), (2,)),
            Step(S.UPDATING, 1, 0, (1,)),
            Step(S.ACTIVE, 1, 2, (1,)),
        ],
    )
    revision = target.push()
    with pytest.raises(ReplacementFailed) as raised:
        target.wait(revision, lambda status: None)
    assert raised.value.message == (
        "the new replica (revision 2) did not start; the previous one keeps serving "
        "(its log lines above say why)"
    )


def test_wait_fails_on_a_failed_build(store: Store, make_truss: MakeTruss) -> None:
    target = _target(
        store, make_truss("hello"), [Step(S.BUILDING, 1, 0, (1,)), Step(S.BUILD_FAILED)]
    )
    with pytest.raises(ReplacementFailed) as raised:
        target.wait(target.push(), lambda status: None)
    assert raised.value.message == (
        "the development deployment is BUILD_FAILED (its log lines above say why)"
    )


def test_wait_times_out(store: Store, make_truss: MakeTruss) -> None:
    target = _target(store, make_truss("hello"), [Step(S.UPDATING, 1, 0, (1,))])
    now = [0.0]
    target.clock = lambda: now[0]
    sleep = target.sleep

    def tick(seconds: float) -> None:
        sleep(seconds)
        now[0] += 1

    target.sleep, target.timeout = tick, 3
    with pytest.raises(ReplacementFailed) as raised:
        target.wait(target.push(), lambda status: None)
    assert raised.value.message == "revision 2 is still UPDATING after 3 s"


def test_push_keeps_the_model_when_config_renames_it(store: Store, make_truss: MakeTruss) -> None:
    directory = make_truss("hello")
    target = _target(store, directory, [])
    (directory / "config.yaml").write_text("model_name: renamed\n")
    assert target.push() == 2
    with store.read() as tx:
        assert [m.name for m in tx.models()] == ["hello"]
    assert target.log_file == store.home / "logs" / f"{target.deployment_id}.log"
