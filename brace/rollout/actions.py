"""Which rollout action is allowed when: a pure decision over a promotion's state.

Actions are recorded on the promotion and applied by the controller between steps, so a
second action may arrive before the first took effect. `effective_status` says what
the promotion will be once its pending action is applied; every check is made against
that, so "pause, then resume" before the controller acts is allowed and cancels out.
"""

from __future__ import annotations

from brace.errors import RefusedError
from brace.store.records import PromotionStatus, RolloutAction

S = PromotionStatus
A = RolloutAction

_OUTCOME = {
    A.PAUSE: S.PAUSED,
    A.RESUME: S.RAMPING_UP,
    A.FORCE_CANCEL: S.CANCELED,
    A.FORCE_ROLL_FORWARD: S.SUCCEEDED,
}

_ALLOWED_FROM: dict[RolloutAction, frozenset[PromotionStatus]] = {
    A.PAUSE: frozenset({S.RELEASING, S.RAMPING_UP}),
    A.RESUME: frozenset({S.PAUSED}),
    A.CANCEL: frozenset({S.RELEASING, S.RAMPING_UP, S.PAUSED}),
    A.FORCE_CANCEL: frozenset({S.RELEASING, S.RAMPING_UP, S.PAUSED, S.RAMPING_DOWN}),
    A.FORCE_ROLL_FORWARD: frozenset({S.RELEASING, S.RAMPING_UP, S.PAUSED, S.RAMPING_DOWN}),
}

_ROLLING_ONLY = frozenset({A.PAUSE, A.RESUME, A.FORCE_ROLL_FORWARD})

_WORDS = {
    A.PAUSE: "pause",
    A.RESUME: "resume",
    A.CANCEL: "cancel",
    A.FORCE_CANCEL: "force-cancel",
    A.FORCE_ROLL_FORWARD: "force-roll-forward",
}


def waits_for_step_end(action: RolloutAction, rolling: bool) -> bool:
    """Whether `action` waits for the end of the current step (pause, resume, and a
    rolling promotion's cancel: replica changes under way finish first), rather than
    being applied at the controller's next pass (the force actions, and the cancel of
    a non-rolling promotion, which has no steps)."""
    return rolling and action in (A.PAUSE, A.RESUME, A.CANCEL)


def outcome(action: RolloutAction, rolling: bool) -> PromotionStatus:
    """The status a promotion reaches once `action` is applied."""
    if action is A.CANCEL:
        return S.RAMPING_DOWN if rolling else S.CANCELED
    return _OUTCOME[action]


def effective_status(
    status: PromotionStatus, pending: RolloutAction | None, rolling: bool
) -> PromotionStatus:
    return status if pending is None else outcome(pending, rolling)


def check_action(
    action: RolloutAction,
    status: PromotionStatus,
    pending: RolloutAction | None,
    rolling: bool,
) -> PromotionStatus:
    """Return the status `action` leads to, or raise RefusedError saying why not."""
    word = _WORDS[action]
    if action in _ROLLING_ONLY and not rolling:
        raise RefusedError(
            f"cannot {word}: this promotion is not a rolling deployment",
            code="NOT_ROLLING",
        )
    current = effective_status(status, pending, rolling)
    if current not in _ALLOWED_FROM[action]:
        allowed = ", ".join(sorted(s.value for s in _ALLOWED_FROM[action]))
        raise RefusedError(
            f"cannot {word} a promotion that is {current.value}",
            f"{word.capitalize()} applies to a promotion that is {allowed}.",
            code="ACTION_NOT_ALLOWED",
        )
    return outcome(action, rolling)
