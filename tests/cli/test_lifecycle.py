"""promote, activate, deactivate, delete, rename; lookups by id, name and model.

No server runs in these tests: where one would bring a deployment up (and so finish a
promotion waiting for it), `become_active` records it as the controller would; where
its next step would switch an environment to a candidate that is already up,
`settle_promotions` takes that step.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from brace.services.promotion_steps import end_promotion
from brace.services.snapshots import snapshot_path
from brace.store import DeploymentStatus, PromotionStatus, Store
from tests.cli.conftest import (
    DEFAULT_AUTOSCALING,
    DEPLOYMENT_KEYS,
    become_active,
    data,
    deployment,
    deployment_names,
    environment,
    expect_error,
    expect_json_error,
    latest_promotion,
    model_id,
    ok,
    rows,
    set_status,
)
from tests.conftest import Cli, MakeTruss, settle_promotions


def test_new_user_walkthrough(cli: Cli, tmp_path: Path, store: Store) -> None:
    directory = tmp_path / "hello"
    created = data(cli, "init", directory)
    assert created == {"path": str(directory.resolve()), "model_name": "hello"}

    dev = data(cli, "push", directory)["deployment"]
    first = data(cli, "push", directory, "--publish")["deployment"]
    second = data(cli, "push", directory, "--promote")["deployment"]
    assert (dev["name"], first["name"], second["name"]) == (
        "development",
        "deployment-1",
        "deployment-2",
    )
    # Production switches once the new deployment is up.
    assert (second["status"], second["is_production"]) == ("DEPLOYING", False)
    waiting = data(cli, "environments", "show", "production")
    assert waiting["current_deployment"] is None
    assert waiting["candidate_deployment"]["id"] == second["id"]
    assert waiting["in_progress_promotion"]["status"] == "RELEASING"
    become_active(store, "deployment-2")

    listed = data(cli, "deployments", "list")["deployments"]
    assert [(d["name"], d["environment"], d["is_production"]) for d in listed] == [
        ("development", None, False),
        ("deployment-1", None, False),
        ("deployment-2", "production", True),
    ]

    refused = cli("delete", "deployment-2")
    expect_error(
        refused,
        5,
        f"deployment deployment-2 ({second['id']}) is production's current deployment "
        "and cannot be deleted",
        "Promote another deployment to production first "
        "(`brace promote DEPLOYMENT -m hello --environment production`), "
        "or delete the whole model (`brace models delete hello`).",
    )
    assert deployment_names(store) == ["development", "deployment-1", "deployment-2"]

    # By now deployment-1 is up too. Promoting it still only starts the promotion...
    become_active(store, "deployment-1")
    promoted = data(cli, "promote", "deployment-1")
    assert (promoted["id"], promoted["is_production"]) == (first["id"], False)
    assert latest_promotion(store).status is PromotionStatus.RELEASING
    # ...and the controller's next step switches production (and the gateway) to it.
    settle_promotions(store)
    assert latest_promotion(store).status is PromotionStatus.SUCCEEDED
    shown = data(cli, "deployments", "show", "production")
    assert (shown["id"], shown["is_production"]) == (first["id"], True)

    deleted = data(cli, "delete", "deployment-2", "--yes")
    assert deleted == {"id": second["id"], "deleted": True, "model_id": second["model_id"]}
    assert deployment_names(store) == ["development", "deployment-1"]

    assert data(cli, "deactivate", "production") == {"success": True}
    assert deployment(store, "deployment-1").status == "INACTIVE"
    assert data(cli, "activate", "production") == {"success": True}
    assert deployment(store, "deployment-1").status == "DEPLOYING"

    update = data(
        cli, "environments", "update", "production", "--rolling-deploy", "--max-surge-percent", "25"
    )
    assert update == {
        "status": "ACCEPTED",
        "message": "Settings of environment production updated.",
    }
    production = data(cli, "environments", "show", "production")
    assert production["current_deployment"]["id"] == first["id"]
    assert production["promotion_settings"]["rolling_deploy"] is True
    assert production["promotion_settings"]["rolling_deploy_config"]["max_surge_percent"] == 25


# promote


def test_promote_development_publishes_a_new_deployment(
    cli: Cli, hello: Path, store: Store
) -> None:
    ok(cli("push", hello, "--promote"))
    become_active(store, "deployment-1")
    ok(cli("push", hello))
    ok(cli("deployments", "autoscaling", "production", "--max-replica", "4"))
    dev_before = data(cli, "deployments", "show", "development")

    promoted = data(cli, "promote", "development")
    assert set(promoted) == DEPLOYMENT_KEYS
    assert promoted["id"] != dev_before["id"]
    assert promoted["name"] == "deployment-2"
    assert promoted["status"] == "DEPLOYING"
    # A new deployment: production switches to it once it is up.
    assert (promoted["is_production"], promoted["is_development"]) == (False, False)
    assert promoted["environment"] is None
    # It takes the settings of the deployment it replaces.
    assert promoted["autoscaling_settings"] == DEFAULT_AUTOSCALING | {"max_replica": 4}
    assert data(cli, "environments", "show", "production")["candidate_deployment"] == promoted

    assert data(cli, "deployments", "show", "development") == dev_before
    assert (
        environment(store, "production").current_deployment_id
        == deployment(store, "deployment-1").id
    )
    become_active(store, "deployment-2")
    assert environment(store, "production").current_deployment_id == promoted["id"]
    shown = data(cli, "deployments", "show", "production")
    assert (shown["id"], shown["is_production"], shown["environment"]) == (
        promoted["id"],
        True,
        "production",
    )
    new = deployment(store, "deployment-2")
    assert new.snapshot is not None and new.source_dir is None


def test_promote_development_without_production_takes_standard_settings(
    cli: Cli, hello: Path
) -> None:
    ok(cli("push", hello))
    promoted = data(cli, "promote", "development")
    assert promoted["name"] == "deployment-1"
    assert promoted["autoscaling_settings"] == DEFAULT_AUTOSCALING


def test_promote_published_keeps_its_id_and_settings(cli: Cli, hello: Path, store: Store) -> None:
    ok(cli("push", hello, "--promote"))
    become_active(store, "deployment-1")
    candidate = data(cli, "push", hello, "--publish")["deployment"]
    replicas = ["--min-replica", "1", "--max-replica", "2"]
    ok(cli("deployments", "autoscaling", "deployment-2", *replicas))
    become_active(store, "deployment-2")

    result = ok(cli("promote", "deployment-2"))
    assert result.stdout == (
        f"Promotion of deployment-2 ({candidate['id']}) to production started; "
        "production switches once it is ACTIVE. "
        "Follow it with `brace rollout status -m hello -e production`.\n"
    )
    assert result.stderr.startswith("warning: deployment-2 keeps its own autoscaling")
    # deployment-2 is already up: the controller switches production at its next step.
    settle_promotions(store)
    assert latest_promotion(store).status is PromotionStatus.SUCCEEDED
    promoted = data(cli, "deployments", "show", "production")
    assert promoted["id"] == candidate["id"]
    assert promoted["autoscaling_settings"] == DEFAULT_AUTOSCALING | {
        "min_replica": 1,
        "max_replica": 2,
    }
    former = data(cli, "deployments", "show", "deployment-1")
    assert (former["is_production"], former["environment"], former["status"]) == (
        False,
        None,
        "ACTIVE",
    )


def test_promote_says_when_the_candidate_keeps_other_autoscaling_settings(
    cli: Cli, hello: Path, store: Store
) -> None:
    """Production pinned at 2/2, replaced by a deployment at 0-1, would halve its
    capacity at SUCCEEDED: promote says so, with the command that copies the settings,
    in text and in the JSON answer (the API's extra field)."""
    ok(cli("push", hello, "--promote"))
    become_active(store, "deployment-1")
    ok(cli("deployments", "autoscaling", "production", "--min-replica", "2", "--max-replica", "2"))
    candidate = data(cli, "push", hello, "--publish")["deployment"]
    become_active(store, "deployment-2")
    production = deployment(store, "deployment-1")

    result = ok(cli("promote", "deployment-2", "-o", "json"))
    assert result.json()["autoscaling_settings_change"] == {
        "previous_deployment_id": production.id,
        "previous_autoscaling_settings": DEFAULT_AUTOSCALING | {"min_replica": 2, "max_replica": 2},
        "autoscaling_settings": DEFAULT_AUTOSCALING,
        "differing_settings": ["min_replica", "max_replica"],
    }
    copy = (
        f"brace deployments autoscaling {candidate['id']} -m hello --min-replica 2 --max-replica 2"
    )
    assert result.stderr == (
        "warning: deployment-2 keeps its own autoscaling settings (Baseten's rule), which "
        "differ from those of production's current deployment deployment-1: min_replica 0 "
        "(deployment-1: 2), max_replica 1 (deployment-1: 2). To give it deployment-1's: "
        f"`{copy}`.\n"
    )
    # The command it prints does what it says.
    ok(cli(*copy.split()[1:]))
    assert deployment(store, "deployment-2").autoscaling == production.autoscaling


def test_promote_says_nothing_when_the_settings_match(cli: Cli, hello: Path, store: Store) -> None:
    ok(cli("push", hello, "--promote"))
    become_active(store, "deployment-1")
    ok(cli("push", hello, "--publish"))
    become_active(store, "deployment-2")
    result = ok(cli("promote", "deployment-2", "-o", "json"))
    assert "autoscaling_settings_change" not in result.json()
    assert result.stderr == ""


def test_promote_to_another_environment(cli: Cli, hello: Path, store: Store) -> None:
    ok(cli("push", hello, "--publish"))
    become_active(store, "deployment-1")
    ok(cli("environments", "create", "staging"))
    promoted = data(cli, "promote", "deployment-1", "--environment", "staging")
    assert (promoted["environment"], promoted["is_production"]) == (None, False)
    staging = data(cli, "environments", "show", "staging")
    assert staging["candidate_deployment"]["id"] == promoted["id"]
    assert staging["in_progress_promotion"]["status"] == "RELEASING"
    # deployment-1 is up: the controller's next step switches staging to it.
    settle_promotions(store)
    shown = data(cli, "deployments", "show", "deployment-1")
    assert (shown["environment"], shown["is_production"]) == ("staging", False)
    assert environment(store, "staging").current_deployment_id == promoted["id"]
    assert latest_promotion(store, "staging").status is PromotionStatus.SUCCEEDED
    assert environment(store, "production").current_deployment_id is None


def test_promote_inactive_deployment_is_refused(cli: Cli, hello: Path, store: Store) -> None:
    ok(cli("push", hello, "--publish"))
    ok(cli("deactivate", "deployment-1"))
    inactive = deployment(store, "deployment-1")

    result = cli("promote", "deployment-1")
    expect_error(
        result,
        5,
        f"deployment deployment-1 ({inactive.id}) is INACTIVE and cannot be promoted",
        f"Activate it first: `brace activate {inactive.id}`, then promote it once it is up.",
    )
    assert "brace activate" in result.stderr
    assert environment(store, "production").current_deployment_id is None


def test_promote_current_deployment_is_refused(cli: Cli, hello: Path, store: Store) -> None:
    ok(cli("push", hello, "--promote"))
    become_active(store, "deployment-1")
    current = deployment(store, "deployment-1")
    expect_error(
        cli("promote", "deployment-1"),
        5,
        f"deployment deployment-1 ({current.id}) is already production's current deployment",
    )


# a non-rolling promotion switches once the candidate is ACTIVE


@pytest.fixture
def waiting(cli: Cli, hello: Path, store: Store) -> str:
    """deployment-1 is production's; deployment-2, DEPLOYING, is being promoted (RELEASING).

    Returns deployment-2's id."""
    ok(cli("push", hello, "--promote"))
    become_active(store, "deployment-1")
    ok(cli("deployments", "autoscaling", "deployment-1", "--max-replica", "3"))
    candidate = str(data(cli, "push", hello, "--publish")["deployment"]["id"])
    assert ok(cli("promote", "deployment-2")).stdout == (
        f"Promotion of deployment-2 ({candidate}) to production started; production switches "
        "once it is ACTIVE. Follow it with `brace rollout status -m hello -e production`.\n"
    )
    return candidate


def test_promote_of_a_deploying_deployment_waits_for_it(
    cli: Cli, waiting: str, store: Store
) -> None:
    current = deployment(store, "deployment-1")
    promotion = latest_promotion(store)
    assert (promotion.status, promotion.percent_traffic, promotion.rolling) == (
        PromotionStatus.RELEASING,
        0,
        False,
    )
    assert (promotion.candidate_id, promotion.previous_id) == (waiting, current.id)
    assert environment(store, "production").current_deployment_id == current.id
    shown = data(cli, "environments", "show", "production")
    assert shown["current_deployment"]["id"] == current.id
    assert shown["candidate_deployment"]["id"] == waiting
    assert shown["in_progress_promotion"] == {
        "status": "RELEASING",
        "percent_traffic_to_new_version": 0,
        "error_message": None,
        "rolling_deploy": False,
        "pending_action": None,
    }
    assert data(cli, "rollout", "status") == shown
    text = rows(ok(cli("rollout", "status")).stdout)
    assert text["current deployment"] == f"deployment-1 ({current.id})"
    assert text["candidate"] == f"deployment-2 ({waiting})"
    assert (text["promotion"], text["traffic to candidate"]) == ("RELEASING", "0%")
    assert data(cli, "deployments", "show", "production")["id"] == current.id


def test_second_promotion_while_one_waits_is_refused(
    cli: Cli, waiting: str, hello: Path, store: Store
) -> None:
    ok(cli("push", hello, "--publish"))
    become_active(store, "deployment-3")
    message = f"a promotion to production is already in progress (RELEASING, deployment {waiting})"
    hint = "Wait for it to finish, or stop it with `brace rollout cancel -m hello -e production`."
    expect_error(cli("promote", "deployment-3"), 5, message, hint)
    expect_error(cli("push", hello, "--promote"), 5, message, hint)
    assert deployment_names(store) == ["deployment-1", "deployment-2", "deployment-3"]
    assert latest_promotion(store).candidate_id == waiting


def test_waiting_promotion_finishes_when_the_candidate_is_active(
    cli: Cli, waiting: str, store: Store
) -> None:
    former = deployment(store, "deployment-1")

    become_active(store, "deployment-2")

    shown = data(cli, "environments", "show", "production")
    assert shown["current_deployment"]["id"] == waiting
    assert shown["candidate_deployment"] is None
    assert shown["in_progress_promotion"] == {
        "status": "SUCCEEDED",
        "percent_traffic_to_new_version": 100,
        "error_message": None,
        "rolling_deploy": False,
        "pending_action": None,
    }
    # The former deployment is demoted: same id, settings and status.
    assert deployment(store, "deployment-1") == former
    demoted = data(cli, "deployments", "show", former.id)
    assert (demoted["is_production"], demoted["environment"], demoted["status"]) == (
        False,
        None,
        "ACTIVE",
    )
    assert demoted["autoscaling_settings"] == DEFAULT_AUTOSCALING | {"max_replica": 3}
    assert data(cli, "deployments", "show", "production")["id"] == waiting


def test_waiting_promotion_fails_when_the_candidate_fails(
    cli: Cli, waiting: str, hello: Path, store: Store
) -> None:
    current = deployment(store, "deployment-1")
    message = "deployment-2 failed to start: load() raised RuntimeError"
    # What the controller records when the candidate cannot start.
    set_status(store, "deployment-2", DeploymentStatus.DEPLOY_FAILED)
    promotion = latest_promotion(store)
    with store.transaction() as tx:
        end_promotion(tx, promotion, PromotionStatus.FAILED, message)

    shown = data(cli, "environments", "show", "production")
    assert shown["current_deployment"]["id"] == current.id
    assert shown["candidate_deployment"] is None
    assert shown["in_progress_promotion"] == {
        "status": "FAILED",
        "percent_traffic_to_new_version": 0,
        "error_message": message,
        "rolling_deploy": False,
        "pending_action": None,
    }
    assert rows(ok(cli("rollout", "status")).stdout)["promotion error"] == message
    assert environment(store, "production").current_deployment_id == current.id
    assert deployment(store, "deployment-1") == current
    # The environment is free for the next promotion.
    ok(cli("push", hello, "--promote"))
    assert latest_promotion(store).candidate_id == deployment(store, "deployment-3").id


def test_deactivate_then_activate(cli: Cli, hello: Path, store: Store) -> None:
    ok(cli("push", hello, "--publish"))
    published = deployment(store, "deployment-1")
    assert ok(cli("deactivate", "deployment-1")).stdout == (
        f"Deactivated deployment-1 ({published.id}).\n"
    )
    stopped = deployment(store, "deployment-1")
    assert (stopped.status, stopped.active_replica_count) == ("INACTIVE", 0)
    expect_error(
        cli("deactivate", "deployment-1"),
        5,
        f"deployment deployment-1 ({published.id}) is already INACTIVE",
    )

    assert ok(cli("activate", published.id)).stdout == (
        f"Activated deployment-1 ({published.id}): DEPLOYING.\n"
    )
    assert deployment(store, "deployment-1").status == "DEPLOYING"
    expect_error(
        cli("activate", "deployment-1"),
        5,
        f"deployment deployment-1 ({published.id}) is DEPLOYING, not inactive",
        "Only a deactivated deployment can be activated.",
    )


# rename


def test_rename(cli: Cli, hello: Path, store: Store) -> None:
    ok(cli("push", hello, "--promote"))
    become_active(store, "deployment-1")
    before = deployment(store, "deployment-1")
    renamed = data(cli, "rename", "deployment-1", "v2-int8")
    assert (renamed["id"], renamed["name"], renamed["is_production"]) == (
        before.id,
        "v2-int8",
        True,
    )
    assert deployment_names(store) == ["v2-int8"]
    text = ok(cli("rename", "v2-int8", "v3"))
    assert text.stdout == f"Renamed deployment {before.id} to v3.\n"
    assert data(cli, "rename", "v3", "v3")["name"] == "v3"
    assert deployment_names(store) == ["v3"]


def test_rename_development_is_refused(cli: Cli, hello: Path, store: Store) -> None:
    ok(cli("push", hello))
    expect_error(
        cli("rename", "development", "dev2"),
        5,
        "the development deployment is always named 'development' and cannot be renamed",
        "Publish it (`brace push DIR --publish --deployment-name NAME`) to name a version.",
    )
    assert deployment_names(store) == ["development"]


@pytest.mark.parametrize(
    ("new_name", "message", "hint"),
    [
        pytest.param(
            "deployment-2",
            "model 'hello' already has a deployment named 'deployment-2'",
            "Choose another name.",
            id="duplicate",
        ),
        pytest.param(
            "development",
            "'development' is reserved: it names the model's development deployment",
            "Choose another name.",
            id="reserved",
        ),
        pytest.param(
            "no/slash",
            "invalid deployment name 'no/slash'",
            "Use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit.",
            id="invalid",
        ),
    ],
)
def test_rename_refused(
    cli: Cli, hello: Path, store: Store, new_name: str, message: str, hint: str
) -> None:
    ok(cli("push", hello, "--publish"))
    ok(cli("push", hello, "--publish"))
    expect_error(cli("rename", "deployment-1", new_name), 5, message, hint)
    assert deployment_names(store) == ["deployment-1", "deployment-2"]


# delete


def test_delete_returns_id_and_removes_the_deployment(
    cli: Cli, make_truss: MakeTruss, store: Store, home: Path
) -> None:
    directory = make_truss("hello")
    ok(cli("push", directory))
    ok(cli("push", directory, "--publish"))
    (directory / "model" / "extra.py").write_text("X = 1\n")
    ok(cli("push", directory, "--promote"))
    first = deployment(store, "deployment-1")
    assert first.snapshot is not None
    assert first.snapshot != deployment(store, "deployment-2").snapshot

    deleted = data(cli, "delete", "deployment-1", "--yes")
    assert deleted == {"id": first.id, "deleted": True, "model_id": model_id(store)}
    assert deployment_names(store) == ["development", "deployment-2"]
    assert not snapshot_path(home, first.snapshot).exists()
    assert snapshot_path(home, str(deployment(store, "deployment-2").snapshot)).is_dir()

    development = deployment(store, "development")
    deleted_text = ok(cli("delete", "development", "--yes")).stdout
    assert deleted_text == f"Deleted development ({development.id}).\n"
    assert deployment_names(store) == ["deployment-2"]
    expect_error(
        cli("deployments", "show", "development"),
        4,
        "model 'hello' has no development deployment",
        "Create it with `brace push DIR`.",
    )


def test_delete_staging_current_deployment_is_refused(cli: Cli, hello: Path, store: Store) -> None:
    ok(cli("push", hello))
    ok(cli("environments", "create", "staging"))
    ok(cli("push", hello, "--environment", "staging"))
    staged = become_active(store, "deployment-1")
    result = cli("delete", "deployment-1")
    assert result.exit_code == 5
    assert result.stderr.startswith(
        f"Error: deployment deployment-1 ({staged.id}) is staging's current deployment "
        "and cannot be deleted\n"
    )
    assert deployment_names(store) == ["development", "deployment-1"]


# lookups


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["promote", "nope"], id="promote"),
        pytest.param(["activate", "nope"], id="activate"),
        pytest.param(["deactivate", "nope"], id="deactivate"),
        pytest.param(["delete", "nope"], id="delete"),
        pytest.param(["rename", "nope", "other"], id="rename"),
        pytest.param(["deployments", "show", "nope"], id="deployments-show"),
        pytest.param(
            ["deployments", "autoscaling", "nope", "--max-replica", "2"], id="autoscaling"
        ),
    ],
)
def test_unknown_deployment_is_not_found(
    cli: Cli, hello: Path, store: Store, args: list[str]
) -> None:
    ok(cli("push", hello, "--publish"))
    hint = "List them with `brace deployments list`."
    expect_error(cli(*args), 4, "no deployment 'nope'", hint)
    expect_json_error(
        cli(*args, "-m", "hello", "-o", "json"), 4, "no deployment 'nope' in model 'hello'", hint
    )
    assert deployment_names(store) == ["deployment-1"]


def test_unknown_model_is_not_found(cli: Cli, hello: Path) -> None:
    expect_error(
        cli("promote", "development"),
        4,
        "there are no models yet",
        "Push one with `brace push DIR`.",
    )
    ok(cli("push", hello))
    expect_error(
        cli("promote", "development", "-m", "nope"), 4, "no model named 'nope'", "Models: hello."
    )


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["promote", "development"], id="promote-development"),
        pytest.param(["deactivate", "production"], id="deactivate-production"),
        pytest.param(["delete", "development", "--yes"], id="delete-development"),
        pytest.param(["deployments", "show", "production"], id="show-production"),
        pytest.param(["environments", "list"], id="environments-list"),
        pytest.param(["rollout", "status"], id="rollout-status"),
    ],
)
def test_several_models_need_dash_m(
    cli: Cli, make_truss: MakeTruss, store: Store, args: list[str]
) -> None:
    for name in ("alpha", "beta"):
        ok(cli("push", make_truss(name), "--promote"))
        become_active(store, "deployment-1", name)
        ok(cli("push", make_truss(name)))
    message = "there are several models; say which one"
    hint = "Pass -m MODEL, one of: alpha, beta."
    expect_error(cli(*args), 2, message, hint)
    expect_json_error(cli(*args, "-o", "json"), 2, message, hint)
    for name in ("alpha", "beta"):
        assert deployment_names(store, name) == ["deployment-1", "development"]
    ok(cli(*args, "-m", "beta"))


def test_same_deployment_name_in_several_models_needs_dash_m(
    cli: Cli, make_truss: MakeTruss, store: Store
) -> None:
    for name in ("alpha", "beta"):
        ok(cli("push", make_truss(name), "--publish"))
    expect_error(
        cli("delete", "deployment-1"),
        2,
        "several models have a deployment named 'deployment-1'",
        "Pass -m MODEL, one of: alpha, beta.",
    )
    deleted = data(cli, "delete", "deployment-1", "-m", "alpha", "--yes")
    assert deleted["model_id"] == model_id(store, "alpha")
    assert deployment_names(store, "alpha") == []
    assert deployment_names(store, "beta") == ["deployment-1"]
    # An id needs no model.
    beta = deployment(store, "deployment-1", "beta")
    assert data(cli, "delete", beta.id, "--yes")["id"] == beta.id


def test_wake_refuses_what_cannot_wake(cli: Cli, hello: Path, store: Store) -> None:
    ok(cli("push", hello, "--publish"))
    found = deployment(store, "deployment-1")
    ok(cli("deactivate", "deployment-1"))
    expect_error(
        cli("wake", "deployment-1"),
        5,
        f"deployment deployment-1 ({found.id}) is INACTIVE and cannot wake",
        f"Activate it instead: `brace activate {found.id}`.",
    )
    expect_error(
        cli("wake", "nope"), 4, "no deployment 'nope'", "List them with `brace deployments list`."
    )


def test_wake_needs_the_server(cli: Cli, hello: Path) -> None:
    ok(cli("push", hello, "--publish"))
    result = cli("wake", "deployment-1")
    assert result.exit_code == 6
    assert result.stderr.startswith("Error: no brace server is running at ")
