"""Restart with backoff, or give up: the verdict on a replica that exited unasked."""

from __future__ import annotations

import pytest

from brace.server.control.restarts import ExitHistory, GiveUp, Restart, RestartPolicy, after_exit
from brace.store.statuses import DeploymentStatus as D

POLICY = RestartPolicy(backoff=(1.0, 2.0, 4.0), max_start_failures=3, max_crashes=3)


def _verdict(history: ExitHistory, ever_ready: bool, now: float = 100.0) -> Restart | GiveUp:
    return after_exit(POLICY, history, replica_id="r1", code=1, ever_ready=ever_ready, now=now)


@pytest.mark.parametrize(
    ("history", "ever_ready", "expected"),
    [
        pytest.param(
            ExitHistory(),
            False,
            Restart(ExitHistory(1, (), 101.0), "replica r1 exited with code 1 before it was ready"),
            id="first-failed-start",
        ),
        pytest.param(
            ExitHistory(1, (), 101.0),
            False,
            Restart(ExitHistory(2, (), 102.0), "replica r1 exited with code 1 before it was ready"),
            id="second-failed-start-waits-longer",
        ),
        pytest.param(
            ExitHistory(2, (), 102.0),
            False,
            GiveUp(
                ExitHistory(3, (), 104.0),
                "replica r1 exited with code 1 before it was ready",
                D.DEPLOY_FAILED,
                "the model failed to start 3 times",
            ),
            id="third-failed-start-gives-up",
        ),
        pytest.param(
            ExitHistory(),
            True,
            Restart(ExitHistory(0, (100.0,), 101.0), "replica r1 exited with code 1"),
            id="first-crash",
        ),
        pytest.param(
            ExitHistory(0, (50.0, 90.0), 91.0),
            True,
            GiveUp(
                ExitHistory(0, (50.0, 90.0, 100.0), 104.0),
                "replica r1 exited with code 1",
                D.FAILED,
                "replicas crashed 3 times in 60 s",
            ),
            id="crash-loop-gives-up",
        ),
        pytest.param(
            ExitHistory(0, (10.0, 90.0), 91.0),
            True,
            Restart(ExitHistory(0, (90.0, 100.0), 102.0), "replica r1 exited with code 1"),
            id="old-crashes-leave-the-window",
        ),
        pytest.param(
            ExitHistory(2, (), 0.0),
            True,
            Restart(ExitHistory(2, (100.0,), 101.0), "replica r1 exited with code 1"),
            id="crash-after-serving-does-not-count-as-failed-start",
        ),
    ],
)
def test_after_exit(history: ExitHistory, ever_ready: bool, expected: Restart | GiveUp) -> None:
    assert _verdict(history, ever_ready) == expected


def test_backoff_repeats_its_last_value() -> None:
    policy = RestartPolicy(backoff=(0.5, 1.0), max_start_failures=10)
    history = ExitHistory()
    delays = []
    for _ in range(4):
        verdict = after_exit(policy, history, replica_id="r", code=-9, ever_ready=False, now=0.0)
        history = verdict.history
        delays.append(history.next_start)
    assert delays == [0.5, 1.0, 1.0, 1.0]
