"""Destructive commands: `delete`, `models delete`, `environments delete`.

They check the target first (it exists, and may be deleted), then confirm: a person at
a terminal is asked; a script (stdin not a terminal) or `-o json` is never asked and
must pass --yes, or gets exit code 2 and a hint.
"""

from __future__ import annotations

import io
import sys

import pytest

from brace.cli.common import Confirmation, Output, confirmation
from brace.store import Store
from tests.cli.conftest import (
    data,
    deployment,
    deployment_names,
    expect_error,
    expect_json_error,
    model_id,
    ok,
)
from tests.conftest import Cli


class Terminal(io.StringIO):
    """Standard input typed by a person at a terminal."""

    def isatty(self) -> bool:
        return True


def state(cli: Cli) -> object:
    return [data(cli, *listing) for listing in (["deployments", "list"], ["environments", "list"])]


# (command, what the question and errors call the target)
TARGETS = [
    pytest.param(
        ["delete", "deployment-2"], "deployment deployment-2 ({id}) of model hello", id="delete"
    ),
    pytest.param(
        ["models", "delete", "hello"], "model hello ({model}) and its 3 deployment(s)", id="model"
    ),
    pytest.param(
        ["environments", "delete", "staging"],
        "environment staging of model hello",
        id="environment",
    ),
]


def described(what: str, store: Store) -> str:
    return what.format(id=deployment(store, "deployment-2").id, model=model_id(store))


@pytest.mark.parametrize(("args", "what"), TARGETS)
def test_a_script_must_pass_yes(
    cli: Cli, world: None, store: Store, args: list[str], what: str
) -> None:
    before = state(cli)
    message = f"not deleting {described(what, store)} without confirmation: stdin is not a terminal"
    hint = "Pass --yes to delete it without being asked."
    expect_error(cli(*args), 2, message, hint)
    assert state(cli) == before


@pytest.mark.parametrize(("args", "what"), TARGETS)
def test_json_never_asks(
    cli: Cli, world: None, store: Store, monkeypatch: pytest.MonkeyPatch, args: list[str], what: str
) -> None:
    monkeypatch.setattr(sys, "stdin", Terminal("y\n"))
    before = state(cli)
    message = f"not deleting {described(what, store)} without confirmation: -o json never asks"
    hint = "Pass --yes to delete it without being asked."
    expect_json_error(cli(*args, "-o", "json"), 2, message, hint)  # no question on stderr
    assert state(cli) == before


@pytest.mark.parametrize(("args", "what"), TARGETS)
def test_a_person_is_asked_and_no_keeps_it(
    cli: Cli, world: None, store: Store, monkeypatch: pytest.MonkeyPatch, args: list[str], what: str
) -> None:
    question = f"Delete {described(what, store)}? [y/N]: "
    before = state(cli)
    monkeypatch.setattr(sys, "stdin", Terminal("n\n"))
    declined = cli(*args)
    assert (declined.exit_code, declined.stdout) == (1, "")
    # (A terminal would echo the answer and its newline after the question.)
    assert declined.stderr == f"{question}Error: nothing was deleted\n"
    assert state(cli) == before
    monkeypatch.setattr(sys, "stdin", Terminal("y\n"))
    accepted = ok(cli(*args))
    assert accepted.stderr == question
    assert accepted.stdout.startswith("Deleted ")


@pytest.mark.parametrize(
    ("args", "code", "message", "hint"),
    [
        pytest.param(
            ["delete", "nope"],
            4,
            "no deployment 'nope'",
            "List them with `brace deployments list`.",
            id="unknown-deployment",
        ),
        pytest.param(
            ["delete", "deployment-1"],
            5,
            "deployment deployment-1 ({id1}) is production's current deployment and cannot be "
            "deleted",
            "Promote another deployment to production first (`brace promote DEPLOYMENT "
            "-m hello --environment production`), or delete the whole model "
            "(`brace models delete hello`).",
            id="production-deployment",
        ),
        pytest.param(
            ["models", "delete", "nope"], 4, "no model named 'nope'", "Models: hello.", id="model"
        ),
        pytest.param(
            ["environments", "delete", "qa"],
            4,
            "model 'hello' has no environment 'qa'",
            "Environments: production, staging. "
            "Create one with `brace environments create qa -m hello`.",
            id="unknown-environment",
        ),
        pytest.param(
            ["environments", "delete", "production"],
            5,
            "the production environment cannot be deleted",
            "Delete the whole model with `brace models delete hello` instead.",
            id="production",
        ),
    ],
)
def test_the_target_is_checked_before_asking(
    cli: Cli,
    world: None,
    store: Store,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    code: int,
    message: str,
    hint: str,
) -> None:
    monkeypatch.setattr(sys, "stdin", Terminal("y\n"))
    message = message.format(id1=deployment(store, "deployment-1").id)
    expect_error(cli(*args), code, message, hint)  # no question was asked
    assert sorted(deployment_names(store)) == ["deployment-1", "deployment-2", "development"]


@pytest.mark.parametrize(
    ("yes", "interactive", "output", "decision"),
    [
        pytest.param(True, False, Output.text, Confirmation.PROCEED, id="yes-script"),
        pytest.param(True, True, Output.json, Confirmation.PROCEED, id="yes-json"),
        pytest.param(False, True, Output.text, Confirmation.ASK, id="terminal"),
        pytest.param(False, False, Output.text, Confirmation.REFUSE, id="script"),
        pytest.param(False, True, Output.json, Confirmation.REFUSE, id="json-on-a-terminal"),
    ],
)
def test_confirmation(yes: bool, interactive: bool, output: Output, decision: Confirmation) -> None:
    assert confirmation(yes, interactive, output) is decision
