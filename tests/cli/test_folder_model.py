"""Run in a model's folder, a command that needs a model uses that folder's model.

`brace push` reads config.yaml there, and `truss predict` uses the folder's model; so
`predict`, `logs`, `rollout ...`, `deployments ...` and `environments ...` do too when
no -m is given, and say so on stderr. -m still names any other model; a deployment id
is found from anywhere, a name within the folder's model.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from brace.store import Store
from tests.cli.conftest import become_active, data, deployment, expect_error, ok
from tests.conftest import Cli, MakeTruss

NOTE = "Model {name} (from ./config.yaml; -m MODEL names another).\n"


@pytest.fixture
def two(cli: Cli, make_truss: MakeTruss, store: Store) -> tuple[Path, Path]:
    """hello: development and deployment-1 (production); other: development."""
    hello, other = make_truss("hello"), make_truss("other")
    ok(cli("push", hello))
    ok(cli("push", hello, "--promote"))
    become_active(store, "deployment-1")
    ok(cli("push", other))
    return hello, other


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["deployments", "show", "production"], id="deployments-show"),
        pytest.param(["environments", "list"], id="environments-list"),
        pytest.param(["environments", "show", "production"], id="environments-show"),
        pytest.param(["rollout", "status"], id="rollout-status"),
        pytest.param(["logs", "development"], id="logs"),
        pytest.param(["promote", "development"], id="promote"),
    ],
)
def test_a_command_in_a_model_folder_uses_its_model(
    cli: Cli, two: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    hello, _ = two
    expect_error(
        cli(*args),
        2,
        "there are several models; say which one",
        "Pass -m MODEL, one of: hello, other.",
    )
    monkeypatch.chdir(hello)
    result = ok(cli(*args, "-o", "json"))
    assert result.stderr.startswith(NOTE.format(name="hello"))


def test_the_folder_model_is_the_one_used(
    cli: Cli, two: tuple[Path, Path], store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, other = two
    monkeypatch.chdir(other)
    shown = data(cli, "deployments", "show", "development")
    assert shown["id"] == deployment(store, "development", "other").id
    envs = data(cli, "environments", "show", "production")
    assert envs["current_deployment"] is None  # other's production has none
    # -m names another model, and then nothing is said about the folder.
    named = ok(cli("deployments", "show", "production", "-m", "hello", "-o", "json"))
    assert (named.json()["id"], named.stderr) == (deployment(store, "deployment-1").id, "")
    # A deployment id is found from any folder; a name is the folder model's, as -m's.
    production = deployment(store, "deployment-1")
    assert data(cli, "deployments", "show", production.id)["id"] == production.id
    refused = cli("delete", "deployment-1", "--yes")
    assert refused.exit_code == 4
    assert refused.stderr.endswith(
        "Error: no deployment 'deployment-1' in model 'other'\n"
        "Hint: List them with `brace deployments list`.\n"
    )
    assert deployment(store, "deployment-1").id == production.id  # not deleted
    # Listings are not narrowed by the folder: no -m lists every model's.
    listed = ok(cli("deployments", "list", "-o", "json"))
    assert (len(listed.json()["deployments"]), listed.stderr) == (3, "")


def test_predict_in_a_model_folder_calls_that_model(
    cli: Cli, two: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no server running, predict gets as far as the server: the model was found."""
    hello, _ = two
    monkeypatch.chdir(hello)
    result = cli("predict", "-d", "{}")
    assert result.exit_code == 6, result.stderr
    assert result.stderr.startswith(
        NOTE.format(name="hello") + "Calling production (deployment-1) of model hello.\n"
    )


def test_a_folder_model_that_was_never_pushed(
    cli: Cli, two: tuple[Path, Path], make_truss: MakeTruss, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(make_truss("fresh"))
    result = cli("rollout", "status")
    assert result.exit_code == 4
    assert result.stderr == (
        NOTE.format(name="fresh")
        + "Error: no model named 'fresh' (the model of ./config.yaml)\n"
        + "Hint: Models: hello, other.\n"
    )


def test_a_folder_without_a_model_name_changes_nothing(
    cli: Cli, two: tuple[Path, Path], make_truss: MakeTruss, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(make_truss("unnamed", config="resources: {}\n"))
    expect_error(
        cli("rollout", "status"),
        2,
        "there are several models; say which one",
        "Pass -m MODEL, one of: hello, other.",
    )
