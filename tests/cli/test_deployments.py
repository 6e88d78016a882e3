"""`brace deployments list | show | autoscaling`."""

from __future__ import annotations

from pathlib import Path

import pytest

from brace.store import Store
from tests.cli.conftest import (
    DEFAULT_AUTOSCALING,
    DEPLOYMENT_KEYS,
    become_active,
    data,
    deployment,
    expect_error,
    model_id,
    ok,
    rows,
)
from tests.conftest import Cli, MakeTruss


@pytest.fixture
def two_models(cli: Cli, make_truss: MakeTruss, store: Store) -> None:
    """alpha: development, deployment-1 (production, ACTIVE); beta: deployment-1."""
    alpha = make_truss("alpha")
    ok(cli("push", alpha))
    ok(cli("push", alpha, "--promote"))
    become_active(store, "deployment-1", "alpha")
    ok(cli("push", make_truss("beta"), "--publish"))


def test_list_empty(cli: Cli, home: Path) -> None:
    assert data(cli, "deployments", "list") == {"deployments": []}
    result = ok(cli("deployments", "list"))
    assert result.stdout == "No deployments. Create one with `brace push DIR`.\n"


def test_list_every_model(cli: Cli, two_models: None, store: Store) -> None:
    listed = data(cli, "deployments", "list")
    assert set(listed) == {"deployments"}
    assert all(set(item) == DEPLOYMENT_KEYS for item in listed["deployments"])
    alpha, beta = model_id(store, "alpha"), model_id(store, "beta")
    assert [(d["model_id"], d["name"], d["environment"]) for d in listed["deployments"]] == [
        (alpha, "development", None),
        (alpha, "deployment-1", "production"),
        (beta, "deployment-1", None),
    ]


def test_list_one_model(cli: Cli, two_models: None, store: Store) -> None:
    for ref in ("beta", model_id(store, "beta")):
        listed = data(cli, "deployments", "list", "-m", ref)["deployments"]
        assert [d["id"] for d in listed] == [deployment(store, "deployment-1", "beta").id]
    expect_error(
        cli("deployments", "list", "-m", "gamma"),
        4,
        "no model named 'gamma'",
        "Models: alpha, beta.",
    )


def test_list_text_is_a_table(cli: Cli, two_models: None, store: Store) -> None:
    lines = ok(cli("deployments", "list")).stdout.splitlines()
    assert lines[0].split() == [
        "MODEL",
        "ID",
        "NAME",
        "ENVIRONMENT",
        "STATUS",
        "REPLICAS",
        "WANTED",
        "CREATED",
    ]
    production = deployment(store, "deployment-1", "alpha")
    assert lines[2].split()[:7] == [
        "alpha",
        production.id,
        "deployment-1",
        "production",
        "ACTIVE",
        "0",
        "0",
    ]
    assert len(lines) == 4


def test_without_a_server_no_replica_is_reported(cli: Cli, two_models: None, store: Store) -> None:
    """A server killed with kill -9 leaves counts behind: with no server running, list
    and show report none, and say why."""
    production = deployment(store, "deployment-1", "alpha")
    with store.transaction() as tx:
        found = tx.deployment(production.id)
        assert found is not None
        tx.update_deployment(found, active_replica_count=2, recommended_replicas=2)
    listed = ok(cli("deployments", "list", "-o", "json")).json()["deployments"]
    assert {d["active_replica_count"] for d in listed} == {0}
    shown = ok(cli("deployments", "show", production.id, "-o", "json")).json()
    assert shown["active_replica_count"] == 0
    text = ok(cli("deployments", "show", production.id))
    assert "active replicas" in text.stdout and "wanted replicas" in text.stdout
    assert text.stderr == (
        "The brace server is not running: no replica serves (start it with `brace up`).\n"
    )


@pytest.mark.parametrize(
    "ref",
    [
        pytest.param("id", id="by-id"),
        pytest.param("deployment-1", id="by-name"),
        pytest.param("production", id="production"),
    ],
)
def test_show_published(cli: Cli, two_models: None, store: Store, ref: str) -> None:
    expected = deployment(store, "deployment-1", "alpha")
    shown = data(cli, "deployments", "show", expected.id if ref == "id" else ref, "-m", "alpha")
    assert set(shown) == DEPLOYMENT_KEYS
    assert (shown["id"], shown["name"], shown["is_production"]) == (
        expected.id,
        "deployment-1",
        True,
    )


def test_show_development(cli: Cli, two_models: None, store: Store) -> None:
    shown = data(cli, "deployments", "show", "development", "-m", "alpha")
    assert shown["id"] == deployment(store, "development", "alpha").id
    assert (shown["is_development"], shown["environment"]) == (True, None)


def test_show_text(cli: Cli, two_models: None, store: Store) -> None:
    expected = deployment(store, "deployment-1", "alpha")
    result = ok(cli("deployments", "show", "production", "-m", "alpha"))
    assert result.stdout.splitlines()[0] == f"Deployment deployment-1 ({expected.id})"
    shown = rows(result.stdout)
    assert shown["model"] == model_id(store, "alpha")
    assert shown["environment"] == "production"
    assert shown["max replicas"] == "1"


def test_show_missing_production(cli: Cli, two_models: None) -> None:
    expect_error(
        cli("deployments", "show", "production", "-m", "beta"),
        4,
        "model 'beta' has no production deployment",
        "Promote one with `brace promote DEPLOYMENT -m beta` or `brace push DIR --promote`.",
    )


def test_autoscaling_accepted_then_unchanged(cli: Cli, hello: Path, store: Store) -> None:
    ok(cli("push", hello, "--publish"))
    target = deployment(store, "deployment-1")
    options = [
        "--min-replica",
        "1",
        "--max-replica",
        "3",
        "--autoscaling-window",
        "5",
        "--scale-down-delay",
        "0",
        "--concurrency-target",
        "4",
        "--target-utilization-percentage",
        "100",
    ]
    accepted = data(cli, "deployments", "autoscaling", "deployment-1", *options)
    assert accepted == {
        "status": "ACCEPTED",
        "message": f"Autoscaling settings of deployment-1 ({target.id}) updated.",
    }
    expected = {
        "min_replica": 1,
        "max_replica": 3,
        "autoscaling_window": 5,
        "scale_down_delay": 0,
        "concurrency_target": 4,
        "target_utilization_percentage": 100,
    }
    assert data(cli, "deployments", "show", "deployment-1")["autoscaling_settings"] == expected

    unchanged = data(cli, "deployments", "autoscaling", "deployment-1", "--max-replica", "3")
    assert unchanged == {
        "status": "UNCHANGED",
        "message": f"Autoscaling settings of deployment-1 ({target.id}) are unchanged.",
    }
    text = ok(cli("deployments", "autoscaling", target.id, "--max-replica", "5"))
    assert text.stdout == f"Autoscaling settings of deployment-1 ({target.id}) updated.\n"
    assert deployment(store, "deployment-1").autoscaling.to_json() == expected | {"max_replica": 5}


def test_autoscaling_of_production_is_the_environments(cli: Cli, hello: Path, store: Store) -> None:
    ok(cli("push", hello, "--promote"))
    become_active(store, "deployment-1")
    ok(cli("deployments", "autoscaling", "production", "--min-replica", "1", "--max-replica", "2"))
    shown = data(cli, "environments", "show", "production")
    assert shown["autoscaling_settings"] == DEFAULT_AUTOSCALING | {
        "min_replica": 1,
        "max_replica": 2,
    }


def test_development_replicas_are_pinned(cli: Cli, hello: Path, store: Store) -> None:
    ok(cli("push", hello))
    expect_error(
        cli("deployments", "autoscaling", "development", "--max-replica", "2"),
        5,
        "the development deployment always has min_replica 0 and max_replica 1",
        "Publish the model (`brace push DIR --publish`) to choose its replica counts.",
    )
    assert deployment(store, "development").autoscaling.to_json() == DEFAULT_AUTOSCALING
    # Its other settings may change.
    changed = data(cli, "deployments", "autoscaling", "development", "--scale-down-delay", "30")
    assert changed["status"] == "ACCEPTED"
    assert deployment(store, "development").autoscaling.scale_down_delay == 30


@pytest.mark.parametrize(
    ("options", "message"),
    [
        pytest.param(
            ["--min-replica", "3"],
            "min_replica (3) must not exceed max_replica (1)",
            id="min-above-max",
        ),
        pytest.param(
            ["--min-replica", "2", "--max-replica", "1"],
            "min_replica (2) must not exceed max_replica (1)",
            id="both-given",
        ),
        pytest.param(
            ["--autoscaling-window", "3601"],
            "autoscaling_window must be 1 to 3600, got 3601",
            id="window-too-long",
        ),
        pytest.param(
            ["--scale-down-delay", "3601"],
            "scale_down_delay must be 0 to 3600, got 3601",
            id="delay-too-long",
        ),
    ],
)
def test_invalid_autoscaling_is_refused(
    cli: Cli, hello: Path, store: Store, options: list[str], message: str
) -> None:
    ok(cli("push", hello, "--publish"))
    expect_error(cli("deployments", "autoscaling", "deployment-1", *options), 5, message)
    assert deployment(store, "deployment-1").autoscaling.to_json() == DEFAULT_AUTOSCALING


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        pytest.param("--min-replica", "-1", "min_replica must be 0 to 1000, got -1", id="min"),
        pytest.param("--max-replica", "0", "max_replica must be 1 to 1000, got 0", id="max"),
        pytest.param(
            "--autoscaling-window",
            "0",
            "autoscaling_window must be 1 to 3600, got 0",
            id="autoscaling-window",
        ),
        pytest.param(
            "--concurrency-target",
            "0",
            "concurrency_target must be 1 to 1000000, got 0",
            id="concurrency-target",
        ),
        pytest.param(
            "--target-utilization-percentage",
            "101",
            "target_utilization_percentage must be 1 to 100, got 101",
            id="utilization",
        ),
    ],
)
def test_out_of_range_option_is_refused_as_the_api_refuses_it(
    cli: Cli, hello: Path, store: Store, option: str, value: str, message: str
) -> None:
    """One table of ranges (the services'), so the CLI and the API refuse alike."""
    ok(cli("push", hello, "--publish"))
    expect_error(cli("deployments", "autoscaling", "deployment-1", option, value), 5, message)
    assert deployment(store, "deployment-1").autoscaling.to_json() == DEFAULT_AUTOSCALING


def test_a_value_that_is_not_a_number_is_a_usage_error(cli: Cli, hello: Path, store: Store) -> None:
    ok(cli("push", hello, "--publish"))
    result = cli("deployments", "autoscaling", "deployment-1", "--max-replica", "two")
    assert result.exit_code == 2
    assert "--max-replica" in result.stderr
    assert result.stdout == ""
    assert deployment(store, "deployment-1").autoscaling.to_json() == DEFAULT_AUTOSCALING
