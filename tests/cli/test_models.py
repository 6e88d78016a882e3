"""`brace models list | show | delete`."""

from __future__ import annotations

from pathlib import Path

import pytest

from brace.services.snapshots import SNAPSHOTS
from brace.store import Store
from tests.cli.conftest import (
    MODEL_KEYS,
    become_active,
    data,
    deployment,
    deployment_names,
    expect_error,
    model_id,
    ok,
    rows,
)
from tests.conftest import Cli, MakeTruss


@pytest.fixture
def two_models(cli: Cli, make_truss: MakeTruss, store: Store) -> None:
    """alpha: development and deployment-1 in production and staging; beta: development."""
    alpha = make_truss("alpha")
    ok(cli("push", alpha))
    ok(cli("push", alpha, "--promote"))
    become_active(store, "deployment-1", "alpha")
    ok(cli("environments", "create", "staging", "-m", "alpha"))
    ok(cli("promote", "deployment-1", "-m", "alpha", "-e", "staging"))
    ok(cli("push", make_truss("beta")))


def test_list_empty(cli: Cli, home: Path) -> None:
    assert data(cli, "models", "list") == {"models": []}
    assert ok(cli("models", "list")).stdout == "No models. Create one with `brace push DIR`.\n"


def test_list(cli: Cli, two_models: None, store: Store) -> None:
    listed = data(cli, "models", "list")["models"]
    assert [m["name"] for m in listed] == ["alpha", "beta"]
    assert all(set(m) == MODEL_KEYS for m in listed)
    alpha, beta = listed
    assert (alpha["deployments_count"], alpha["production_deployment_id"]) == (
        2,
        deployment(store, "deployment-1", "alpha").id,
    )
    assert (beta["deployments_count"], beta["production_deployment_id"]) == (1, None)
    assert beta["development_deployment_id"] == deployment(store, "development", "beta").id

    lines = ok(cli("models", "list")).stdout.splitlines()
    assert lines[0].split() == ["ID", "NAME", "DEPLOYMENTS", "PRODUCTION", "DEVELOPMENT", "CREATED"]
    assert lines[2].split()[:5] == [beta["id"], "beta", "1", "-", beta["development_deployment_id"]]


def test_show_by_name_or_id(cli: Cli, two_models: None, store: Store) -> None:
    by_name = data(cli, "models", "show", "alpha")
    assert set(by_name) == MODEL_KEYS
    assert by_name["id"] == model_id(store, "alpha")
    assert data(cli, "models", "show", by_name["id"]) == by_name
    text = ok(cli("models", "show", "alpha")).stdout
    assert text.splitlines()[0] == f"Model alpha ({by_name['id']})"
    assert rows(text)["deployments"] == "2"


def test_show_unknown(cli: Cli, two_models: None) -> None:
    expect_error(
        cli("models", "show", "gamma"), 4, "no model named 'gamma'", "Models: alpha, beta."
    )


def test_delete_removes_deployments_and_environments(
    cli: Cli, two_models: None, store: Store, home: Path
) -> None:
    alpha = model_id(store, "alpha")
    assert any((home / SNAPSHOTS).iterdir())
    assert data(cli, "models", "delete", "alpha", "--yes") == {"id": alpha, "deleted": True}

    assert [m["name"] for m in data(cli, "models", "list")["models"]] == ["beta"]
    assert [d["name"] for d in data(cli, "deployments", "list")["deployments"]] == ["development"]
    with store.read() as tx:
        assert (tx.deployments(alpha), tx.environments(alpha)) == ([], [])
        assert tx.latest_promotion(alpha, "production") is None
    assert not any((home / SNAPSHOTS).iterdir())
    assert deployment_names(store, "beta") == ["development"]
    expect_error(
        cli("models", "delete", "alpha", "-y"), 4, "no model named 'alpha'", "Models: beta."
    )


def test_delete_text(cli: Cli, two_models: None, store: Store) -> None:
    beta = model_id(store, "beta")
    assert ok(cli("models", "delete", "beta", "-y")).stdout == f"Deleted model beta ({beta}).\n"


def test_names_are_shown_verbatim_in_tables(cli: Cli, hello: Path, store: Store) -> None:
    """Model names may hold brackets; tables must not read them as Rich markup."""
    ok(cli("push", hello, "--model-name", "x[bold]y"))
    assert ok(cli("models", "list")).stdout.splitlines()[1].split()[1] == "x[bold]y"
    assert ok(cli("deployments", "list")).stdout.splitlines()[1].split()[0] == "x[bold]y"
    assert data(cli, "models", "show", "x[bold]y")["id"] == model_id(store, "x[bold]y")
