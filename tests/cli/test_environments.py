"""`brace environments list | show | create | update | delete`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from brace.store import Store
from tests.cli.conftest import (
    DEFAULT_AUTOSCALING,
    DEFAULT_PROMOTION_SETTINGS,
    ENVIRONMENT_KEYS,
    become_active,
    data,
    environment,
    expect_error,
    expect_json_error,
    model_id,
    ok,
    rows,
)
from tests.conftest import Cli

SURGE_AND_UNAVAILABLE_HINT = (
    "Set only the one you use (the other becomes 0), e.g. --max-unavailable-percent 20."
)


@pytest.fixture
def pushed(cli: Cli, hello: Path) -> Path:
    """Model hello with a development deployment and no production deployment yet."""
    ok(cli("push", hello))
    return hello


def environment_names(cli: Cli) -> list[str]:
    return [e["name"] for e in data(cli, "environments", "list")["environments"]]


def test_production_always_exists(cli: Cli, pushed: Path, store: Store) -> None:
    listed = data(cli, "environments", "list")
    assert [e["name"] for e in listed["environments"]] == ["production"]
    shown = data(cli, "environments", "show", "production")
    assert set(shown) == ENVIRONMENT_KEYS
    assert shown == listed["environments"][0]
    assert shown["model_id"] == model_id(store)
    assert (
        shown["current_deployment"],
        shown["candidate_deployment"],
        shown["in_progress_promotion"],
    ) == (None, None, None)
    assert shown["autoscaling_settings"] == DEFAULT_AUTOSCALING
    assert shown["promotion_settings"] == DEFAULT_PROMOTION_SETTINGS
    assert shown["instance_type"]["id"] == "local"


def test_show_with_current_deployment(cli: Cli, pushed: Path, store: Store) -> None:
    ok(cli("push", pushed, "--promote"))
    current = become_active(store, "deployment-1")
    shown = data(cli, "environments", "show", "production")
    assert shown["current_deployment"]["id"] == current.id
    assert shown["current_deployment"]["is_production"] is True
    assert shown["in_progress_promotion"] == {
        "status": "SUCCEEDED",
        "percent_traffic_to_new_version": 100,
        "error_message": None,
        "rolling_deploy": False,
        "pending_action": None,
    }
    text = ok(cli("environments", "show", "production"))
    assert text.stdout.splitlines()[0] == "Environment production"
    assert rows(text.stdout)["current deployment"] == f"deployment-1 ({current.id})"


def test_create(cli: Cli, pushed: Path, store: Store) -> None:
    created = data(cli, "environments", "create", "staging")
    assert set(created) == ENVIRONMENT_KEYS
    assert (created["name"], created["current_deployment"]) == ("staging", None)
    assert created["promotion_settings"] == DEFAULT_PROMOTION_SETTINGS
    assert environment_names(cli) == ["production", "staging"]
    assert ok(cli("environments", "create", "canary")).stdout == "Created environment canary.\n"
    assert environment_names(cli) == ["production", "staging", "canary"]
    assert environment(store, "canary").current_deployment_id is None


@pytest.mark.parametrize(
    ("name", "message", "hint"),
    [
        pytest.param(
            "production",
            "model 'hello' already has an environment 'production'",
            "Change its settings with `brace environments update production -m hello`, "
            "or choose another name.",
            id="taken",
        ),
        pytest.param(
            "development",
            "'development' is reserved: it names the development deployment",
            "Choose another name, such as 'staging'.",
            id="reserved",
        ),
        pytest.param(
            "Staging",
            "invalid environment name 'Staging'",
            "Use 1 to 64 lowercase letters, digits, '_' or '-', starting with a letter or digit.",
            id="uppercase",
        ),
    ],
)
def test_create_refused(cli: Cli, pushed: Path, name: str, message: str, hint: str | None) -> None:
    expect_error(cli("environments", "create", name), 5, message, hint)
    assert environment_names(cli) == ["production"]


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        pytest.param(["--rolling-deploy"], {"rolling_deploy": True}, id="rolling"),
        pytest.param(
            ["--max-surge-percent", "50"],
            {"rolling_deploy_config": {"max_surge_percent": 50}},
            id="surge",
        ),
        pytest.param(
            ["--max-surge-percent", "0", "--max-unavailable-percent", "20"],
            {"rolling_deploy_config": {"max_surge_percent": 0, "max_unavailable_percent": 20}},
            id="unavailable",
        ),
        pytest.param(
            ["--stabilization-time-seconds", "3600", "--replica-overhead-percent", "500"],
            {
                "rolling_deploy_config": {
                    "stabilization_time_seconds": 3600,
                    "replica_overhead_percent": 500,
                }
            },
            id="stabilization-and-overhead",
        ),
        pytest.param(
            ["--cleanup-strategy", "DEACTIVATE"],
            {"promotion_cleanup_strategy": "DEACTIVATE"},
            id="cleanup",
        ),
    ],
)
def test_update(cli: Cli, pushed: Path, options: list[str], expected: dict[str, Any]) -> None:
    result = data(cli, "environments", "update", "production", *options)
    assert result == {
        "status": "ACCEPTED",
        "message": "Settings of environment production updated.",
    }
    settings = DEFAULT_PROMOTION_SETTINGS | expected
    settings["rolling_deploy_config"] = DEFAULT_PROMOTION_SETTINGS["rolling_deploy_config"] | (
        expected.get("rolling_deploy_config", {})
    )
    assert data(cli, "environments", "show", "production")["promotion_settings"] == settings

    again = data(cli, "environments", "update", "production", *options)
    assert again == {
        "status": "UNCHANGED",
        "message": "Settings of environment production are unchanged.",
    }


def test_setting_one_mode_clears_the_other(cli: Cli, pushed: Path) -> None:
    """Surge and unavailable are two modes: choosing one by its percentage sets the
    other to 0, as Baseten's configuration widget does, so switching is one option."""

    def percentages() -> tuple[int, int]:
        config = data(cli, "environments", "show", "production")["promotion_settings"][
            "rolling_deploy_config"
        ]
        return config["max_surge_percent"], config["max_unavailable_percent"]

    ok(cli("environments", "update", "production", "--max-unavailable-percent", "20"))
    assert percentages() == (0, 20)
    ok(cli("environments", "update", "production", "--max-surge-percent", "30"))
    assert percentages() == (30, 0)
    ok(cli("environments", "update", "production", "--stabilization-time-seconds", "5"))
    assert percentages() == (30, 0)


def test_create_takes_the_promotion_settings(cli: Cli, pushed: Path) -> None:
    created = data(
        cli,
        "environments",
        "create",
        "canary",
        "--rolling-deploy",
        "--max-unavailable-percent",
        "20",
        "--stabilization-time-seconds",
        "5",
        "--cleanup-strategy",
        "KEEP",
        "--automatic-rollback",
        "--rollback-max-p99-ratio",
        "2",
    )
    settings = created["promotion_settings"]
    assert settings == DEFAULT_PROMOTION_SETTINGS | {
        "rolling_deploy": True,
        "rolling_deploy_config": DEFAULT_PROMOTION_SETTINGS["rolling_deploy_config"]
        | {"max_surge_percent": 0, "max_unavailable_percent": 20, "stabilization_time_seconds": 5},
        "promotion_cleanup_strategy": "KEEP",
        "automatic_rollback": DEFAULT_PROMOTION_SETTINGS["automatic_rollback"]
        | {"enabled": True, "max_p99_latency_ratio": 2.0},
    }
    assert data(cli, "environments", "show", "canary")["promotion_settings"] == settings
    expect_error(
        cli("environments", "create", "other", "--max-surge-percent", "60"),
        5,
        "max_surge_percent must be 0 to 50, got 60",
    )
    assert environment_names(cli) == ["production", "canary"]


def test_update_text_and_turning_rolling_off(cli: Cli, pushed: Path, store: Store) -> None:
    ok(cli("environments", "create", "staging"))
    result = ok(cli("environments", "update", "staging", "--rolling-deploy"))
    assert result.stdout == "Settings of environment staging updated.\n"
    assert environment(store, "staging").promotion_settings.rolling_deploy is True
    assert environment(store, "production").promotion_settings.rolling_deploy is False
    ok(cli("environments", "update", "staging", "--no-rolling-deploy"))
    assert environment(store, "staging").promotion_settings.rolling_deploy is False


@pytest.mark.parametrize(
    ("options", "message", "hint"),
    [
        pytest.param(
            ["--max-surge-percent", "10", "--max-unavailable-percent", "20"],
            "max_surge_percent is 10 and max_unavailable_percent is 20: "
            "exactly one of them must be non-zero",
            SURGE_AND_UNAVAILABLE_HINT,
            id="both-non-zero",
        ),
        pytest.param(
            ["--max-surge-percent", "0"],
            "max_surge_percent is 0 and max_unavailable_percent is 0: "
            "exactly one of them must be non-zero",
            SURGE_AND_UNAVAILABLE_HINT,
            id="both-zero",
        ),
        pytest.param(
            ["--max-surge-percent", "51"],
            "max_surge_percent must be 0 to 50, got 51",
            None,
            id="surge-too-high",
        ),
        pytest.param(
            ["--max-unavailable-percent", "-1"],
            "max_unavailable_percent must be 0 to 50, got -1",
            None,
            id="unavailable-negative",
        ),
        pytest.param(
            ["--stabilization-time-seconds", "3601"],
            "stabilization_time_seconds must be 0 to 3600, got 3601",
            None,
            id="stabilization-too-long",
        ),
        pytest.param(
            ["--replica-overhead-percent", "501"],
            "replica_overhead_percent must be 0 to 500, got 501",
            None,
            id="overhead-too-high",
        ),
    ],
)
def test_invalid_update_is_refused(
    cli: Cli, pushed: Path, store: Store, options: list[str], message: str, hint: str | None
) -> None:
    expect_error(cli("environments", "update", "production", *options), 5, message, hint)
    expect_json_error(
        cli("environments", "update", "production", *options, "-o", "json"), 5, message, hint
    )
    assert data(cli, "environments", "show", "production")["promotion_settings"] == (
        DEFAULT_PROMOTION_SETTINGS
    )


def test_unknown_cleanup_strategy_is_a_usage_error(cli: Cli, pushed: Path) -> None:
    result = cli("environments", "update", "production", "--cleanup-strategy", "EXPLODE")
    assert result.exit_code == 2
    assert "--cleanup-strategy" in result.stderr
    assert data(cli, "environments", "show", "production")["promotion_settings"] == (
        DEFAULT_PROMOTION_SETTINGS
    )


def test_delete_keeps_the_deployments(cli: Cli, pushed: Path, store: Store) -> None:
    ok(cli("environments", "create", "staging"))
    ok(cli("push", pushed, "--environment", "staging"))
    staged = become_active(store, "deployment-1")
    deleted = data(cli, "environments", "delete", "staging", "--yes")
    assert deleted == {"name": "staging", "model_id": model_id(store), "deleted": True}
    assert environment_names(cli) == ["production"]
    shown = data(cli, "deployments", "show", staged.id)
    assert (shown["environment"], shown["status"]) == (None, "ACTIVE")
    expect_error(
        cli("environments", "show", "staging"),
        4,
        "model 'hello' has no environment 'staging'",
        "Environments: production. Create one with `brace environments create staging -m hello`.",
    )
    ok(cli("environments", "create", "staging"))
    assert (
        ok(cli("environments", "delete", "staging", "--yes")).stdout
        == "Deleted environment staging.\n"
    )


def test_delete_production_is_refused(cli: Cli, pushed: Path) -> None:
    expect_error(
        cli("environments", "delete", "production"),
        5,
        "the production environment cannot be deleted",
        "Delete the whole model with `brace models delete hello` instead.",
    )
    assert environment_names(cli) == ["production"]


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["show", "qa"], id="show"),
        pytest.param(["update", "qa", "--rolling-deploy"], id="update"),
        pytest.param(["delete", "qa"], id="delete"),
    ],
)
def test_unknown_environment_is_not_found(cli: Cli, pushed: Path, args: list[str]) -> None:
    expect_error(
        cli("environments", *args),
        4,
        "model 'hello' has no environment 'qa'",
        "Environments: production. Create one with `brace environments create qa -m hello`.",
    )
