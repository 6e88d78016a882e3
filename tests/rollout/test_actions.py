"""Which rollout action is allowed from which promotion status, pending action included."""

from __future__ import annotations

import pytest

from brace.cli.hints import hint_for
from brace.errors import RefusedError
from brace.rollout.actions import check_action, effective_status, outcome
from brace.store.records import PromotionStatus, RolloutAction

S = PromotionStatus
A = RolloutAction
FINISHED = [S.SUCCEEDED, S.FAILED, S.CANCELED]


@pytest.mark.parametrize(
    ("action", "status", "pending", "rolling", "expected"),
    [
        pytest.param(A.PAUSE, S.RELEASING, None, True, S.PAUSED, id="pause-releasing"),
        pytest.param(A.PAUSE, S.RAMPING_UP, None, True, S.PAUSED, id="pause-ramping-up"),
        pytest.param(A.RESUME, S.PAUSED, None, True, S.RAMPING_UP, id="resume-paused"),
        pytest.param(A.CANCEL, S.RELEASING, None, True, S.RAMPING_DOWN, id="cancel-releasing"),
        pytest.param(A.CANCEL, S.RAMPING_UP, None, True, S.RAMPING_DOWN, id="cancel-ramping-up"),
        pytest.param(A.CANCEL, S.PAUSED, None, True, S.RAMPING_DOWN, id="cancel-paused"),
        pytest.param(A.CANCEL, S.RELEASING, None, False, S.CANCELED, id="cancel-not-rolling"),
        pytest.param(
            A.FORCE_CANCEL, S.RELEASING, None, True, S.CANCELED, id="force-cancel-releasing"
        ),
        pytest.param(
            A.FORCE_CANCEL, S.RAMPING_UP, None, True, S.CANCELED, id="force-cancel-ramping-up"
        ),
        pytest.param(A.FORCE_CANCEL, S.PAUSED, None, True, S.CANCELED, id="force-cancel-paused"),
        pytest.param(
            A.FORCE_CANCEL, S.RAMPING_DOWN, None, True, S.CANCELED, id="force-cancel-ramping-down"
        ),
        pytest.param(
            A.FORCE_CANCEL, S.RELEASING, None, False, S.CANCELED, id="force-cancel-not-rolling"
        ),
        pytest.param(
            A.FORCE_ROLL_FORWARD, S.RELEASING, None, True, S.SUCCEEDED, id="roll-forward-releasing"
        ),
        pytest.param(
            A.FORCE_ROLL_FORWARD, S.RAMPING_UP, None, True, S.SUCCEEDED, id="roll-forward-ramping"
        ),
        pytest.param(
            A.FORCE_ROLL_FORWARD, S.PAUSED, None, True, S.SUCCEEDED, id="roll-forward-paused"
        ),
        pytest.param(
            A.FORCE_ROLL_FORWARD,
            S.RAMPING_DOWN,
            None,
            True,
            S.SUCCEEDED,
            id="roll-forward-ramping-down",
        ),
        # A pending action counts as applied: "pause, then resume" cancels out.
        pytest.param(A.RESUME, S.RAMPING_UP, A.PAUSE, True, S.RAMPING_UP, id="pause-then-resume"),
        pytest.param(A.PAUSE, S.PAUSED, A.RESUME, True, S.PAUSED, id="resume-then-pause"),
        pytest.param(A.CANCEL, S.RAMPING_UP, A.PAUSE, True, S.RAMPING_DOWN, id="pause-then-cancel"),
        pytest.param(
            A.FORCE_CANCEL, S.RAMPING_UP, A.CANCEL, True, S.CANCELED, id="cancel-then-force"
        ),
        pytest.param(
            A.FORCE_ROLL_FORWARD,
            S.RAMPING_UP,
            A.CANCEL,
            True,
            S.SUCCEEDED,
            id="cancel-then-roll-forward",
        ),
    ],
)
def test_allowed(
    action: RolloutAction,
    status: PromotionStatus,
    pending: RolloutAction | None,
    rolling: bool,
    expected: PromotionStatus,
) -> None:
    assert check_action(action, status, pending, rolling) is expected


NOT_ROLLING = "this promotion is not a rolling deployment"


def _refusals() -> list[object]:
    cases: list[object] = [
        pytest.param(A.PAUSE, S.RELEASING, None, False, NOT_ROLLING, id="pause-not-rolling"),
        pytest.param(A.RESUME, S.PAUSED, None, False, NOT_ROLLING, id="resume-not-rolling"),
        pytest.param(
            A.FORCE_ROLL_FORWARD, S.RELEASING, None, False, NOT_ROLLING, id="roll-fwd-not-rolling"
        ),
        pytest.param(
            A.PAUSE, S.PAUSED, None, True, "cannot pause a promotion that is PAUSED", id="pause-2x"
        ),
        pytest.param(
            A.PAUSE,
            S.RAMPING_DOWN,
            None,
            True,
            "cannot pause a promotion that is RAMPING_DOWN",
            id="pause-ramping-down",
        ),
        pytest.param(
            A.RESUME,
            S.RELEASING,
            None,
            True,
            "cannot resume a promotion that is RELEASING",
            id="resume-releasing",
        ),
        pytest.param(
            A.RESUME,
            S.RAMPING_UP,
            None,
            True,
            "cannot resume a promotion that is RAMPING_UP",
            id="resume-ramping-up",
        ),
        pytest.param(
            A.RESUME,
            S.RAMPING_DOWN,
            None,
            True,
            "cannot resume a promotion that is RAMPING_DOWN",
            id="resume-ramping-down",
        ),
        pytest.param(
            A.CANCEL,
            S.RAMPING_DOWN,
            None,
            True,
            "cannot cancel a promotion that is RAMPING_DOWN",
            id="cancel-ramping-down",
        ),
        # Against the status the pending action leads to.
        pytest.param(
            A.PAUSE,
            S.RAMPING_UP,
            A.PAUSE,
            True,
            "cannot pause a promotion that is PAUSED",
            id="pause-pending-pause",
        ),
        pytest.param(
            A.RESUME,
            S.PAUSED,
            A.RESUME,
            True,
            "cannot resume a promotion that is RAMPING_UP",
            id="resume-pending-resume",
        ),
        pytest.param(
            A.PAUSE,
            S.RAMPING_UP,
            A.CANCEL,
            True,
            "cannot pause a promotion that is RAMPING_DOWN",
            id="pause-pending-cancel",
        ),
        pytest.param(
            A.CANCEL,
            S.RAMPING_UP,
            A.CANCEL,
            True,
            "cannot cancel a promotion that is RAMPING_DOWN",
            id="cancel-pending-cancel",
        ),
        pytest.param(
            A.CANCEL,
            S.RELEASING,
            A.CANCEL,
            False,
            "cannot cancel a promotion that is CANCELED",
            id="cancel-pending-cancel-not-rolling",
        ),
        pytest.param(
            A.FORCE_CANCEL,
            S.RELEASING,
            A.CANCEL,
            False,
            "cannot force-cancel a promotion that is CANCELED",
            id="force-cancel-pending-cancel-not-rolling",
        ),
    ]
    for pending, leads_to in [(A.FORCE_CANCEL, S.CANCELED), (A.FORCE_ROLL_FORWARD, S.SUCCEEDED)]:
        for action in A:
            cases.append(
                pytest.param(
                    action,
                    S.RAMPING_UP,
                    pending,
                    True,
                    f"a promotion that is {leads_to.value}",
                    id=f"{action.value.lower()}-pending-{pending.value.lower()}",
                )
            )
    for status in FINISHED:
        for action in A:
            cases.append(
                pytest.param(
                    action,
                    status,
                    None,
                    True,
                    f"a promotion that is {status.value}",
                    id=f"{action.value.lower()}-{status.value.lower()}",
                )
            )
    return cases


@pytest.mark.parametrize(("action", "status", "pending", "rolling", "message"), _refusals())
def test_refused(
    action: RolloutAction,
    status: PromotionStatus,
    pending: RolloutAction | None,
    rolling: bool,
    message: str,
) -> None:
    with pytest.raises(RefusedError) as caught:
        check_action(action, status, pending, rolling)

    assert message in caught.value.message
    assert caught.value.exit_code == 5


def test_not_rolling_hint_says_how_to_enable() -> None:
    with pytest.raises(RefusedError) as caught:
        check_action(A.PAUSE, S.RELEASING, None, False)

    assert caught.value.message == "cannot pause: this promotion is not a rolling deployment"
    assert hint_for(caught.value) is not None
    assert "brace environments update ENV --rolling-deploy" in hint_for(caught.value)


def test_refusal_hint_lists_the_allowed_statuses() -> None:
    with pytest.raises(RefusedError) as caught:
        check_action(A.RESUME, S.RAMPING_UP, None, True)

    assert hint_for(caught.value) == "Resume applies to a promotion that is PAUSED."

    with pytest.raises(RefusedError) as caught:
        check_action(A.FORCE_ROLL_FORWARD, S.CANCELED, None, True)

    assert hint_for(caught.value) == (
        "Force-roll-forward applies to a promotion that is PAUSED, RAMPING_DOWN, "
        "RAMPING_UP, RELEASING."
    )


@pytest.mark.parametrize(
    ("action", "rolling", "expected"),
    [
        pytest.param(A.PAUSE, True, S.PAUSED, id="pause"),
        pytest.param(A.RESUME, True, S.RAMPING_UP, id="resume"),
        pytest.param(A.CANCEL, True, S.RAMPING_DOWN, id="cancel-rolling"),
        pytest.param(A.CANCEL, False, S.CANCELED, id="cancel-not-rolling"),
        pytest.param(A.FORCE_CANCEL, True, S.CANCELED, id="force-cancel"),
        pytest.param(A.FORCE_ROLL_FORWARD, True, S.SUCCEEDED, id="force-roll-forward"),
    ],
)
def test_outcome(action: RolloutAction, rolling: bool, expected: PromotionStatus) -> None:
    assert outcome(action, rolling) is expected


@pytest.mark.parametrize(
    ("status", "pending", "rolling", "expected"),
    [
        pytest.param(S.RAMPING_UP, None, True, S.RAMPING_UP, id="no-pending"),
        pytest.param(S.RAMPING_UP, A.PAUSE, True, S.PAUSED, id="pending-pause"),
        pytest.param(S.PAUSED, A.CANCEL, True, S.RAMPING_DOWN, id="pending-cancel"),
        pytest.param(S.RELEASING, A.CANCEL, False, S.CANCELED, id="pending-cancel-not-rolling"),
    ],
)
def test_effective_status(
    status: PromotionStatus,
    pending: RolloutAction | None,
    rolling: bool,
    expected: PromotionStatus,
) -> None:
    assert effective_status(status, pending, rolling) is expected
