"""Rolling promotions from the CLI: start, `rollout status`, and the five actions.

No controller runs in these tests, so a promotion stays where the CLI put it: the
actions are recorded on the promotion (for the controller to apply between steps) and
the tests check what was recorded.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from brace.store import PromotionStatus, RolloutAction, Store
from tests.cli.conftest import (
    ENVIRONMENT_KEYS,
    become_active,
    data,
    deployment,
    deployment_names,
    environment,
    expect_error,
    latest_promotion,
    model_id,
    ok,
    rows,
)
from tests.conftest import Cli, settle_promotions

NO_PROMOTION_HINT = "See the last one with `brace rollout status -m hello -e production`."


@dataclass(frozen=True)
class Rolling:
    """Production serves `current`; `candidate` is published, not promoted yet."""

    current: str
    candidate: str


@pytest.fixture
def rolling(cli: Cli, hello: Path, store: Store) -> Rolling:
    ok(cli("push", hello, "--promote"))
    become_active(store, "deployment-1")
    ok(cli("push", hello, "--publish"))
    ok(cli("environments", "update", "production", "--rolling-deploy"))
    return Rolling(deployment(store, "deployment-1").id, deployment(store, "deployment-2").id)


@pytest.fixture
def started(cli: Cli, rolling: Rolling) -> Rolling:
    """`rolling`, with the promotion of the candidate started (RELEASING)."""
    ok(cli("promote", "deployment-2"))
    return rolling


def test_promote_starts_a_rolling_promotion(cli: Cli, rolling: Rolling, store: Store) -> None:
    result = ok(cli("promote", "deployment-2"))
    assert result.stdout == (
        f"Rolling promotion of deployment-2 ({rolling.candidate}) to production started; "
        "production switches once it is ACTIVE. "
        "Follow it with `brace rollout status -m hello -e production`.\n"
    )
    promotion = latest_promotion(store)
    assert (promotion.status, promotion.rolling, promotion.percent_traffic) == (
        PromotionStatus.RELEASING,
        True,
        0,
    )
    assert (promotion.candidate_id, promotion.previous_id) == (rolling.candidate, rolling.current)
    # Traffic stays on the current deployment until the rollout moves it.
    assert environment(store, "production").current_deployment_id == rolling.current


def test_promote_json_is_the_candidate(cli: Cli, rolling: Rolling) -> None:
    body = data(cli, "promote", "deployment-2")
    assert (body["id"], body["is_production"], body["environment"]) == (
        rolling.candidate,
        False,
        None,
    )


def test_push_promote_starts_a_rolling_promotion(cli: Cli, rolling: Rolling, hello: Path) -> None:
    ok(cli("delete", "deployment-2", "--yes"))
    result = ok(cli("push", hello, "--promote"))
    assert result.stdout.endswith(
        "Rolling promotion to production started (RELEASING); it switches once the "
        "deployment is ACTIVE. Follow it with `brace rollout status -m hello -e production`.\n"
    )


def test_status_json(cli: Cli, started: Rolling, store: Store) -> None:
    status = data(cli, "rollout", "status")
    assert set(status) == ENVIRONMENT_KEYS
    assert status["name"] == "production"
    assert status["in_progress_promotion"] == {
        "status": "RELEASING",
        "percent_traffic_to_new_version": 0,
        "error_message": None,
        "rolling_deploy": True,
        "pending_action": None,
    }
    assert status["candidate_deployment"]["id"] == started.candidate
    assert status["current_deployment"]["id"] == started.current
    assert status == data(cli, "environments", "show", "production")
    assert data(cli, "rollout", "status", "-m", model_id(store), "-e", "production") == status


def test_status_text(cli: Cli, started: Rolling) -> None:
    shown = rows(ok(cli("rollout", "status")).stdout)
    assert shown["current deployment"] == f"deployment-1 ({started.current})"
    assert shown["candidate"] == f"deployment-2 ({started.candidate})"
    assert shown["promotion"] == "RELEASING"
    assert shown["traffic to candidate"] == "0%"


def test_status_without_any_promotion(cli: Cli, hello: Path) -> None:
    ok(cli("push", hello))
    status = data(cli, "rollout", "status", "--watch")
    assert (status["in_progress_promotion"], status["candidate_deployment"]) == (None, None)


def test_status_of_unknown_environment(cli: Cli, started: Rolling) -> None:
    expect_error(
        cli("rollout", "status", "-e", "staging"),
        4,
        "model 'hello' has no environment 'staging'",
        "Environments: production. Create one with `brace environments create staging -m hello`.",
    )


def test_watch_returns_at_once_when_the_promotion_is_finished(
    cli: Cli, hello: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_sleep(seconds: float) -> None:
        raise AssertionError(f"--watch slept {seconds}s on a finished promotion")

    monkeypatch.setattr(time, "sleep", no_sleep)
    ok(cli("push", hello, "--promote"))
    become_active(store, "deployment-1")
    status = data(cli, "rollout", "status", "--watch", "--interval", "3600")
    assert status["in_progress_promotion"]["status"] == "SUCCEEDED"


def test_watch_follows_until_the_promotion_ends(
    cli: Cli, started: Rolling, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    sleeps: list[float] = []

    hello = model_id(store)

    def finish_on_sleep(seconds: float) -> None:
        # Stands in for the controller: the rollout finishes while the CLI waits.
        sleeps.append(seconds)
        with store.transaction() as tx:
            promotion = tx.latest_promotion(hello, "production")
            assert promotion is not None
            tx.update_promotion(promotion, status=PromotionStatus.SUCCEEDED, percent_traffic=100)

    monkeypatch.setattr(time, "sleep", finish_on_sleep)
    result = ok(cli("rollout", "status", "--watch", "--interval", "0.5"))
    assert sleeps == [0.5]
    # Not a terminal: one line per change, not the whole view at every poll.
    lines = [re.sub(r"^\d\d:\d\d:\d\d ", "", line) for line in result.stdout.splitlines()]
    candidate = f"deployment-2 ({started.candidate})"
    assert lines == [
        f"production: RELEASING, 0% to {candidate}",
        f"production: SUCCEEDED, 100% to {candidate}",
    ]


def test_watch_into_a_pipe_prints_only_changes(
    cli: Cli, started: Rolling, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ten polls while nothing moves print nothing more; each change prints one line
    (one JSON object with -o json)."""
    hello = model_id(store)
    steps = iter([None] * 4 + [PromotionStatus.RAMPING_UP] * 4 + [PromotionStatus.SUCCEEDED])

    def step_on_sleep(seconds: float) -> None:
        status = next(steps)
        if status is not None:
            with store.transaction() as tx:
                promotion = tx.latest_promotion(hello, "production")
                assert promotion is not None
                tx.update_promotion(promotion, status=status, percent_traffic=50)

    monkeypatch.setattr(time, "sleep", step_on_sleep)
    text = ok(cli("rollout", "status", "--watch", "--interval", "1")).stdout.splitlines()
    assert [line.split(" ", 2)[1:] for line in text] == [
        ["production:", "RELEASING, 0% to deployment-2 (" + started.candidate + ")"],
        ["production:", "RAMPING_UP, 50% to deployment-2 (" + started.candidate + ")"],
        ["production:", "SUCCEEDED, 50% to deployment-2 (" + started.candidate + ")"],
    ]


@pytest.mark.parametrize(
    ("command", "action", "body"),
    [
        pytest.param("pause", RolloutAction.PAUSE, {"success": True}, id="pause"),
        pytest.param(
            "cancel",
            RolloutAction.CANCEL,
            {
                "status": "RAMPING_DOWN",
                "message": "Cancel requested for the promotion of deployment-2 ({candidate}) to "
                "production: it takes effect at the end of the current step, once replica "
                "changes under way finish (then RAMPING_DOWN: traffic moves back step by step).",
            },
            id="cancel",
        ),
        pytest.param(
            "force-cancel", RolloutAction.FORCE_CANCEL, {"success": True}, id="force-cancel"
        ),
        pytest.param(
            "force-roll-forward",
            RolloutAction.FORCE_ROLL_FORWARD,
            {"success": True},
            id="force-roll-forward",
        ),
    ],
)
def test_action_is_recorded_for_the_controller(
    cli: Cli,
    started: Rolling,
    store: Store,
    command: str,
    action: RolloutAction,
    body: dict[str, Any],
) -> None:
    expected = {
        key: value.format(candidate=started.candidate) if isinstance(value, str) else value
        for key, value in body.items()
    }
    assert data(cli, "rollout", command) == expected
    promotion = latest_promotion(store)
    assert (promotion.status, promotion.requested_action) == (PromotionStatus.RELEASING, action)


@pytest.mark.parametrize(
    ("command", "text"),
    [
        pytest.param(
            "pause",
            "Pause requested for the promotion of deployment-2 ({candidate}) to production: it "
            "takes effect at the end of the current step, once replica changes under way "
            "finish (then PAUSED: traffic stays where it is).",
            id="pause",
        ),
        pytest.param(
            "force-cancel",
            "Force cancel requested for the promotion of deployment-2 ({candidate}) to "
            "production: it takes effect at once (then CANCELED: all traffic on the previous "
            "deployment).",
            id="force-cancel",
        ),
        pytest.param(
            "force-roll-forward",
            "Force roll forward requested for the promotion of deployment-2 ({candidate}) to "
            "production: it takes effect at once (then SUCCEEDED: all traffic on the "
            "candidate).",
            id="force-roll-forward",
        ),
    ],
)
def test_action_text_says_when_it_acts(cli: Cli, started: Rolling, command: str, text: str) -> None:
    """The force actions act at the controller's next pass, not between steps
    (brace.rollout.driver); the others at the end of the current step."""
    result = ok(cli("rollout", command))
    assert result.stdout == text.format(candidate=started.candidate) + "\n"
    assert result.stderr == (
        "The brace server is not running: the promotion stays as it is until it runs "
        "(`brace up`).\n"
    )


def _ramping(store: Store, status: PromotionStatus, settled_ago: float) -> None:
    """The promotion as the controller leaves it: at its first step, settled
    `settled_ago` seconds ago, 10 % of traffic on the candidate."""
    hello = model_id(store)
    with store.transaction() as tx:
        promotion = tx.latest_promotion(hello, "production")
        assert promotion is not None
        now = time.time()
        tx.update_promotion(
            promotion,
            status=status,
            percent_traffic=10,
            base_replicas=1,
            step=0,
            step_applied_at=now - settled_ago - 1,
            step_settled_at=now - settled_ago,
        )


def test_a_paused_rollout_shows_no_next_step(cli: Cli, started: Rolling, store: Store) -> None:
    """Paused after its stabilization time ran out, it said "next step in 0 s"."""
    _ramping(store, PromotionStatus.PAUSED, settled_ago=60)
    shown = rows(ok(cli("rollout", "status")).stdout)
    assert shown["next step"] == (
        "none while paused (resume with `brace rollout resume -m hello -e production`)"
    )
    ok(cli("rollout", "resume"))
    shown = rows(ok(cli("rollout", "status")).stdout)
    assert shown["next step"] == "in 0 s (stabilization)"
    assert shown["pending action"] == "resume (recorded, applied at the end of this step)"


def test_a_pending_action_is_visible_everywhere(cli: Cli, started: Rolling, store: Store) -> None:
    """A cancel was answered RAMPING_DOWN while the promotion stays RAMPING_UP until the
    step ends: every view says a cancel is pending."""
    ok(cli("environments", "update", "production", "--stabilization-time-seconds", "30"))
    _ramping(store, PromotionStatus.RAMPING_UP, settled_ago=0)
    assert data(cli, "rollout", "cancel")["status"] == "RAMPING_DOWN"
    for command in (["rollout", "status"], ["environments", "show", "production"]):
        promotion = data(cli, *command)["in_progress_promotion"]
        assert (promotion["status"], promotion["pending_action"]) == ("RAMPING_UP", "CANCEL")
        shown = rows(ok(cli(*command)).stdout)
        assert shown["pending action"] == "cancel (recorded, applied at the end of this step)"
    ok(cli("rollout", "force-roll-forward"))
    shown = rows(ok(cli("rollout", "status")).stdout)
    assert shown["pending action"] == "force roll forward (recorded, applied at once)"
    assert data(cli, "rollout", "status")["in_progress_promotion"]["pending_action"] == (
        "FORCE_ROLL_FORWARD"
    )


def test_status_text_is_for_people(cli: Cli, started: Rolling, store: Store) -> None:
    """Readable labels with units, yes/no, a recorded action shown as pending, and no
    candidate row once the promotion ended."""
    ok(cli("environments", "update", "production", "--stabilization-time-seconds", "30"))
    ok(cli("rollout", "pause"))
    text = ok(cli("rollout", "status")).stdout
    shown = rows(text)
    assert shown["model"] == "hello"
    assert shown["pending action"] == "pause (recorded, applied at the end of this step)"
    assert shown["rolling promotion"] == "yes"
    assert shown["stabilization time"] == "30 s"
    assert shown["max surge"] == "10%"
    assert shown["rolling deploy"] == "yes"
    assert "True" not in text and "False" not in text
    assert "promotion.rolling_deploy_config" not in text
    hello = model_id(store)
    with store.transaction() as tx:
        promotion = tx.latest_promotion(hello, "production")
        assert promotion is not None
        tx.update_promotion(promotion, status=PromotionStatus.SUCCEEDED, percent_traffic=100)
    finished = rows(ok(cli("rollout", "status")).stdout)
    assert finished["last promotion"] == f"SUCCEEDED (deployment-2 ({started.candidate}))"
    assert "candidate" not in finished and "traffic to candidate" not in finished
    assert "pending action" not in finished


def test_pause_then_resume(cli: Cli, started: Rolling, store: Store) -> None:
    assert data(cli, "rollout", "pause") == {"success": True}
    expect_error(
        cli("rollout", "pause"),
        5,
        "cannot pause a promotion that is PAUSED",
        "Pause applies to a promotion that is RAMPING_UP, RELEASING.",
    )
    assert data(cli, "rollout", "resume") == {"success": True}
    assert latest_promotion(store).requested_action is RolloutAction.RESUME


def test_resume_when_not_paused_is_refused(cli: Cli, started: Rolling, store: Store) -> None:
    expect_error(
        cli("rollout", "resume"),
        5,
        "cannot resume a promotion that is RELEASING",
        "Resume applies to a promotion that is PAUSED.",
    )
    assert latest_promotion(store).requested_action is None


def test_nothing_goes_after_a_force_cancel(cli: Cli, started: Rolling, store: Store) -> None:
    ok(cli("rollout", "force-cancel"))
    expect_error(
        cli("rollout", "force-roll-forward"),
        5,
        "cannot force-roll-forward a promotion that is CANCELED",
        "Force-roll-forward applies to a promotion that is PAUSED, RAMPING_DOWN, RAMPING_UP, "
        "RELEASING.",
    )
    assert latest_promotion(store).requested_action is RolloutAction.FORCE_CANCEL


@pytest.mark.parametrize(
    "command",
    [
        pytest.param("pause", id="pause"),
        pytest.param("resume", id="resume"),
        pytest.param("cancel", id="cancel"),
        pytest.param("force-cancel", id="force-cancel"),
        pytest.param("force-roll-forward", id="force-roll-forward"),
    ],
)
def test_action_without_a_promotion_is_refused(
    cli: Cli, rolling: Rolling, store: Store, command: str
) -> None:
    expect_error(
        cli("rollout", command), 5, "no promotion is in progress in production", NO_PROMOTION_HINT
    )
    ok(cli("promote", "deployment-2", "-e", "production"))
    ok(cli("rollout", "force-roll-forward"))
    hello = model_id(store)
    with store.transaction() as tx:
        promotion = tx.latest_promotion(hello, "production")
        assert promotion is not None
        tx.update_promotion(promotion, status=PromotionStatus.SUCCEEDED, requested_action=None)
    expect_error(
        cli("rollout", command), 5, "no promotion is in progress in production", NO_PROMOTION_HINT
    )


@pytest.mark.parametrize("command", ["pause", "resume", "force-roll-forward"])
def test_rolling_only_actions_on_a_non_rolling_promotion(
    cli: Cli, rolling: Rolling, store: Store, command: str
) -> None:
    # Without rolling deploys, the promotion of a DEPLOYING deployment waits (RELEASING).
    ok(cli("environments", "update", "production", "--no-rolling-deploy"))
    ok(cli("promote", "deployment-2"))
    assert (latest_promotion(store).status, latest_promotion(store).rolling) == (
        PromotionStatus.RELEASING,
        False,
    )
    expect_error(
        cli("rollout", command),
        5,
        f"cannot {command}: this promotion is not a rolling deployment",
        "Enable rolling deployments on the environment "
        "(`brace environments update production -m hello --rolling-deploy`) before promoting.",
    )
    assert latest_promotion(store).requested_action is None


@pytest.mark.parametrize(
    ("command", "action", "body"),
    [
        pytest.param(
            "cancel",
            RolloutAction.CANCEL,
            {
                "status": "CANCELED",
                "message": "Cancel requested for the promotion of deployment-2 ({candidate}) to "
                "production: it takes effect at once (then CANCELED: all traffic on the previous "
                "deployment).",
            },
            id="cancel",
        ),
        pytest.param(
            "force-cancel", RolloutAction.FORCE_CANCEL, {"success": True}, id="force-cancel"
        ),
    ],
)
def test_a_non_rolling_promotion_can_be_canceled(
    cli: Cli,
    rolling: Rolling,
    store: Store,
    command: str,
    action: RolloutAction,
    body: dict[str, Any],
) -> None:
    ok(cli("environments", "update", "production", "--no-rolling-deploy"))
    ok(cli("promote", "deployment-2"))
    expected = {
        key: value.format(candidate=rolling.candidate) if isinstance(value, str) else value
        for key, value in body.items()
    }

    assert data(cli, "rollout", command) == expected

    promotion = latest_promotion(store)
    assert (promotion.status, promotion.rolling, promotion.requested_action) == (
        PromotionStatus.RELEASING,
        False,
        action,
    )
    assert environment(store, "production").current_deployment_id == rolling.current
    expect_error(
        cli("rollout", "cancel"),
        5,
        "cannot cancel a promotion that is CANCELED",
        "Cancel applies to a promotion that is PAUSED, RAMPING_UP, RELEASING.",
    )


def test_one_promotion_at_a_time(cli: Cli, started: Rolling, hello: Path, store: Store) -> None:
    message = (
        "a promotion to production is already in progress "
        f"(RELEASING, deployment {started.candidate})"
    )
    hint = "Wait for it to finish, or stop it with `brace rollout cancel -m hello -e production`."
    expect_error(cli("promote", "deployment-1"), 5, message, hint)
    expect_error(cli("push", hello, "--promote"), 5, message, hint)
    assert deployment_names(store) == ["deployment-1", "deployment-2"]
    assert latest_promotion(store).candidate_id == started.candidate


@pytest.mark.parametrize(
    ("command", "name"),
    [
        pytest.param("delete", "deployment-2", id="delete-candidate"),
        pytest.param("deactivate", "deployment-2", id="deactivate-candidate"),
        pytest.param("deactivate", "deployment-1", id="deactivate-previous"),
    ],
)
def test_deployments_of_a_promotion_are_protected(
    cli: Cli, started: Rolling, store: Store, command: str, name: str
) -> None:
    target = deployment(store, name)
    expect_error(
        cli(command, name),
        5,
        f"deployment {name} ({target.id}) is part of the promotion in progress in production",
        "Cancel it first: `brace rollout cancel -m hello -e production`.",
    )
    assert deployment(store, name) == target


def test_staging_rollout_is_separate(cli: Cli, started: Rolling, store: Store) -> None:
    ok(cli("environments", "create", "staging"))
    ok(cli("promote", "deployment-1", "-e", "staging"))
    # deployment-1 is up: the controller's next step switches staging to it, and leaves
    # production's rolling promotion where it is.
    settle_promotions(store)
    staging = data(cli, "rollout", "status", "-e", "staging")
    assert staging["in_progress_promotion"]["status"] == "SUCCEEDED"
    assert staging["current_deployment"]["id"] == started.current
    assert latest_promotion(store).status is PromotionStatus.RELEASING
    expect_error(
        cli("rollout", "pause", "-e", "staging"),
        5,
        "no promotion is in progress in staging",
        "See the last one with `brace rollout status -m hello -e staging`.",
    )
    assert data(cli, "rollout", "pause", "-e", "production") == {"success": True}


def test_cancel_then_force_roll_forward(cli: Cli, started: Rolling, store: Store) -> None:
    ok(cli("rollout", "pause"))
    assert data(cli, "rollout", "cancel")["status"] == "RAMPING_DOWN"
    expect_error(
        cli("rollout", "resume"),
        5,
        "cannot resume a promotion that is RAMPING_DOWN",
        "Resume applies to a promotion that is PAUSED.",
    )
    assert data(cli, "rollout", "force-roll-forward") == {"success": True}
    assert latest_promotion(store).requested_action is RolloutAction.FORCE_ROLL_FORWARD


def test_environment_with_a_promotion_cannot_be_deleted(
    cli: Cli, started: Rolling, store: Store
) -> None:
    ok(cli("environments", "create", "staging"))
    ok(cli("promote", "deployment-1", "-e", "staging"))
    settle_promotions(store)  # the controller switches staging to deployment-1
    ok(cli("environments", "update", "staging", "--rolling-deploy"))
    ok(cli("promote", "deployment-2", "-e", "staging"))
    expect_error(
        cli("environments", "delete", "staging"),
        5,
        "a promotion to staging is already in progress "
        f"(RELEASING, deployment {started.candidate})",
        "Wait for it to finish, or stop it with `brace rollout cancel -m hello -e staging`.",
    )
    assert environment(store, "staging").current_deployment_id == started.current
