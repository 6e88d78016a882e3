"""`brace push`: the development deployment, publishing, promoting, and config errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from brace.services.snapshots import SNAPSHOTS, snapshot_path
from brace.store import Store
from tests.cli.conftest import (
    DEFAULT_AUTOSCALING,
    DEPLOYMENT_KEYS,
    MODEL_KEYS,
    become_active,
    data,
    deployment,
    deployment_names,
    environment,
    expect_error,
    expect_json_error,
    model_id,
    ok,
)
from tests.conftest import Cli, MakeTruss


def test_dev_push_text_creates_the_model_then_updates_its_development_deployment(
    cli: Cli, hello: Path, store: Store
) -> None:
    first = ok(cli("push", hello))
    dev = deployment(store, "development")
    assert first.stdout == (
        f"Development deployment development ({dev.id}) of model hello: DEPLOYING\n"
    )
    assert first.stderr == f"Created model hello ({model_id(store)}).\n"
    assert (dev.is_development, dev.source_dir, dev.revision) == (True, str(hello), 1)

    second = ok(cli("push", hello))
    assert second.stdout == first.stdout
    assert second.stderr == ""
    again = deployment(store, "development")
    assert (again.id, again.revision) == (dev.id, 2)
    assert deployment_names(store) == ["development"]


def test_dev_push_json_is_model_and_deployment(cli: Cli, hello: Path, store: Store) -> None:
    result = ok(cli("push", hello, "-o", "json"))
    assert result.stderr == ""
    body = result.json()
    assert set(body) == {"model", "deployment"}
    model, dev = body["model"], body["deployment"]
    assert set(model) == MODEL_KEYS
    assert set(dev) == DEPLOYMENT_KEYS
    assert model == {
        "id": model_id(store),
        "created_at": model["created_at"],
        "name": "hello",
        "deployments_count": 1,
        "production_deployment_id": None,
        "development_deployment_id": dev["id"],
        "instance_type_name": "local",
        "team_name": "local",
    }
    assert dev == {
        "id": deployment(store, "development").id,
        "created_at": dev["created_at"],
        "name": "development",
        "model_id": model["id"],
        "is_production": False,
        "is_development": True,
        "status": "DEPLOYING",
        "active_replica_count": 0,
        "autoscaling_settings": DEFAULT_AUTOSCALING,
        "instance_type_name": "local",
        "environment": None,
        "labels": None,
    }
    assert model["created_at"].endswith("Z") and dev["created_at"].endswith("Z")


def test_publish_creates_a_numbered_snapshot_deployment(
    cli: Cli, hello: Path, store: Store, home: Path
) -> None:
    ok(cli("push", hello))
    first = data(cli, "push", hello, "--publish")
    second = data(cli, "push", hello, "--publish")
    for body, name in ((first, "deployment-1"), (second, "deployment-2")):
        assert body["deployment"]["name"] == name
        assert body["deployment"]["is_development"] is False
        assert body["deployment"]["is_production"] is False
        assert body["deployment"]["environment"] is None
        assert body["deployment"]["autoscaling_settings"] == DEFAULT_AUTOSCALING
    assert second["model"]["deployments_count"] == 3
    assert second["model"]["production_deployment_id"] is None
    published = deployment(store, "deployment-1")
    assert published.snapshot is not None and published.source_dir is None
    assert (snapshot_path(home, published.snapshot) / "model" / "model.py").is_file()
    assert environment(store, "production").current_deployment_id is None


def test_publish_text(cli: Cli, hello: Path, store: Store) -> None:
    result = ok(cli("push", hello, "--publish"))
    published = deployment(store, "deployment-1")
    assert result.stdout == (
        f"Published deployment deployment-1 ({published.id}) of model hello: DEPLOYING\n"
    )


def test_publish_with_requirements_starts_building(cli: Cli, make_truss: MakeTruss) -> None:
    directory = make_truss("reqs", config="model_name: reqs\nrequirements: [six]\n")
    body = data(cli, "push", directory, "--publish")
    assert body["deployment"]["status"] == "BUILDING"


def test_promote_publishes_and_promotes_to_production(cli: Cli, hello: Path, store: Store) -> None:
    result = ok(cli("push", hello, "--promote"))
    promoted = deployment(store, "deployment-1")
    first, promotion, *rest = result.stdout.splitlines()
    assert first == f"Published deployment deployment-1 ({promoted.id}) of model hello: DEPLOYING"
    # Production switches once the new deployment is ACTIVE.
    assert "promotion to production started" in promotion.lower()
    assert "`brace rollout status" in promotion
    assert rest == []
    assert environment(store, "production").current_deployment_id is None
    waiting = data(cli, "environments", "show", "production")
    assert waiting["candidate_deployment"]["id"] == promoted.id
    assert waiting["in_progress_promotion"]["status"] == "RELEASING"
    become_active(store, "deployment-1")
    assert environment(store, "production").current_deployment_id == promoted.id

    body = data(cli, "push", hello, "--promote")
    assert body["deployment"]["name"] == "deployment-2"
    assert (body["deployment"]["is_production"], body["deployment"]["environment"]) == (
        False,
        None,
    )
    assert body["model"]["production_deployment_id"] == promoted.id
    become_active(store, "deployment-2")
    shown = data(cli, "deployments", "show", "deployment-2")
    assert (shown["is_production"], shown["environment"]) == (True, "production")
    assert data(cli, "models", "show", "hello")["production_deployment_id"] == shown["id"]
    shown = data(cli, "deployments", "show", "deployment-1")
    assert (shown["is_production"], shown["environment"]) == (False, None)


def test_environment_publishes_and_promotes_there(cli: Cli, hello: Path, store: Store) -> None:
    ok(cli("push", hello))
    ok(cli("environments", "create", "staging"))
    result = ok(cli("push", hello, "--environment", "staging"))
    staged = deployment(store, "deployment-1")
    assert "promotion to staging started" in result.stdout.splitlines()[-1].lower()
    assert environment(store, "staging").current_deployment_id is None
    become_active(store, "deployment-1")
    body = data(cli, "deployments", "show", staged.id)
    assert (body["environment"], body["is_production"]) == ("staging", False)
    assert environment(store, "staging").current_deployment_id == staged.id
    assert environment(store, "production").current_deployment_id is None


def test_environment_that_does_not_exist_creates_nothing(
    cli: Cli, hello: Path, store: Store, home: Path
) -> None:
    result = cli("push", hello, "--environment", "staging")
    expect_error(
        result,
        4,
        "model 'hello' has no environment 'staging'",
        "Environments: production. Create one with `brace environments create staging -m hello`.",
    )
    assert data(cli, "models", "list") == {"models": []}
    # A refused push leaves no copy of the model directory behind (it may hold weights).
    snapshots = home / SNAPSHOTS
    assert not snapshots.exists() or list(snapshots.iterdir()) == []


def test_deployment_name(cli: Cli, hello: Path, store: Store) -> None:
    body = data(cli, "push", hello, "--publish", "--deployment-name", "v1-int8")
    assert body["deployment"]["name"] == "v1-int8"
    assert deployment(store, "v1-int8").id == body["deployment"]["id"]

    again = cli("push", hello, "--publish", "--deployment-name", "v1-int8")
    expect_error(
        again, 5, "model 'hello' already has a deployment named 'v1-int8'", "Choose another name."
    )
    numbered = data(cli, "push", hello, "--publish")
    assert numbered["deployment"]["name"] == "deployment-1"
    assert deployment_names(store) == ["v1-int8", "deployment-1"]


@pytest.mark.parametrize(
    ("name", "message", "hint"),
    [
        pytest.param(
            "production",
            "'production' is reserved: it names the model's production deployment",
            "Choose another name.",
            id="reserved",
        ),
        pytest.param(
            "-v1",
            "invalid deployment name '-v1'",
            "Use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit.",
            id="leading-dash",
        ),
        pytest.param(
            "a b",
            "invalid deployment name 'a b'",
            "Use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit.",
            id="space",
        ),
    ],
)
def test_invalid_deployment_name_is_refused(
    cli: Cli, hello: Path, store: Store, name: str, message: str, hint: str
) -> None:
    ok(cli("push", hello))
    result = cli("push", hello, "--publish", f"--deployment-name={name}")
    expect_error(result, 5, message, hint)
    assert deployment_names(store) == ["development"]


def test_unknown_config_key_warns_but_pushes(cli: Cli, make_truss: MakeTruss, store: Store) -> None:
    directory = make_truss("hello", config="model_name: hello\nflavour: vanilla\n")
    result = ok(cli("push", directory, "-o", "json"))
    assert result.stderr == (
        f"warning: {directory / 'config.yaml'}: unknown field 'flavour' is ignored "
        "(Truss rejects unknown fields at push)\n"
    )
    assert result.json()["deployment"]["name"] == "development"
    assert deployment_names(store) == ["development"]


@pytest.mark.parametrize(
    ("config", "problem"),
    [
        pytest.param(
            "model_name: hello\nresources:\n  cpu: lots\n",
            'field \'resources.cpu\': expected a string like "1", "1.5" or "500m", got \'lots\'',
            id="resources-cpu",
        ),
        pytest.param(
            "model_name: hello\npython_version: py27\n",
            "field 'python_version': expected one of py38, py39, py310, py311, py312, py313, "
            "py314, got 'py27'",
            id="python-version",
        ),
        pytest.param(
            "model_name: hello\nrequirements: six\n",
            "field 'requirements': expected a list of strings, got a string ('six')",
            id="requirements-not-a-list",
        ),
        pytest.param(
            "model_name: hello\nruntime:\n  predict_concurrency: 0\n",
            "field 'runtime.predict_concurrency': expected a whole number from 1 to 10000, got 0",
            id="predict-concurrency",
        ),
        pytest.param(
            "- model_name\n",
            "expected a mapping of fields at the top level, got a list",
            id="not-a-mapping",
        ),
    ],
)
def test_invalid_config_names_file_and_field(
    cli: Cli, make_truss: MakeTruss, config: str, problem: str
) -> None:
    directory = make_truss("hello", config=config)
    result = cli("push", directory, "--publish")
    expect_error(result, 5, f"{directory / 'config.yaml'}: {problem}")
    assert data(cli, "models", "list") == {"models": []}


def test_missing_model_name_asks_for_model_name_option(
    cli: Cli, make_truss: MakeTruss, store: Store
) -> None:
    directory = make_truss("nameless", config="description: no name here\n")
    result = cli("push", directory, "-o", "json")
    expect_json_error(
        result,
        5,
        f"{directory / 'config.yaml'}: no model_name",
        "Set model_name in config.yaml, or pass --model-name NAME.",
    )
    assert data(cli, "models", "list") == {"models": []}

    body = data(cli, "push", directory, "--model-name", "named")
    assert body["model"]["name"] == "named"
    assert deployment_names(store, "named") == ["development"]


@pytest.mark.parametrize(
    ("options", "message", "hint"),
    [
        pytest.param(
            ["--deployment-name", "x"],
            "--deployment-name names a published deployment; the development deployment "
            "is always named 'development'",
            "Add --publish (or --promote) to create a published deployment.",
            id="deployment-name-without-publish",
        ),
        pytest.param(
            ["--promote", "--environment", "staging"],
            "--promote promotes to production, --environment staging to staging",
            "Use one of them.",
            id="promote-and-environment",
        ),
    ],
)
def test_conflicting_options_are_usage_errors(
    cli: Cli, hello: Path, options: list[str], message: str, hint: str
) -> None:
    result = cli("push", hello, *options)
    expect_error(result, 2, message, hint)
    assert data(cli, "models", "list") == {"models": []}


def test_missing_directory(cli: Cli, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    expect_error(
        cli("push", missing),
        5,
        f"{missing}: no such directory",
        "Pass the directory of a Truss model.",
    )
    assert data(cli, "models", "list") == {"models": []}


@pytest.mark.parametrize(
    ("present", "hint"),
    [
        pytest.param(
            None, "Create one with `brace init DIR`, or pass the model's directory.", id="none"
        ),
        pytest.param("config.yml", "Rename config.yml to config.yaml.", id="config-yml"),
    ],
)
def test_missing_config_file(cli: Cli, tmp_path: Path, present: str | None, hint: str) -> None:
    directory = tmp_path / "empty"
    directory.mkdir()
    if present:
        (directory / present).write_text("model_name: hello\n")
    result = cli("push", directory)
    expect_error(result, 5, f"{directory / 'config.yaml'}: file not found", hint)


def test_missing_model_class(cli: Cli, make_truss: MakeTruss) -> None:
    directory = make_truss("hello", model="class Other:\n    pass\n")
    result = cli("push", directory)
    expect_error(
        result,
        5,
        f"{directory / 'model' / 'model.py'}: class 'Model' not found",
        "Define it at the top level of the file, or set model_class_name in config.yaml.",
    )


def test_numbering_skips_names_already_taken(cli: Cli, hello: Path, store: Store) -> None:
    ok(cli("push", hello, "--publish", "--deployment-name", "deployment-2"))
    ok(cli("push", hello, "--publish"))
    ok(cli("push", hello, "--publish"))
    assert deployment_names(store) == ["deployment-2", "deployment-1", "deployment-3"]


# init: a directory that pushes as it is


def test_init_then_push_without_warnings(cli: Cli, tmp_path: Path, store: Store) -> None:
    directory = tmp_path / "fresh"
    result = ok(cli("init", directory))
    assert result.stdout == (
        f"Created {directory.resolve()} (model fresh). Next: brace push {directory}\n"
    )
    assert (directory / "config.yaml").is_file()
    assert (directory / "model" / "model.py").is_file()
    pushed = ok(cli("push", directory, "--publish"))
    assert pushed.stderr == f"Created model fresh ({model_id(store, 'fresh')}).\n"
    assert deployment_names(store, "fresh") == ["deployment-1"]


def test_init_with_model_name(cli: Cli, tmp_path: Path) -> None:
    body = data(cli, "init", tmp_path / "x", "--model-name", "Fancy Name")
    assert body == {"path": str((tmp_path / "x").resolve()), "model_name": "Fancy Name"}
    assert data(cli, "push", tmp_path / "x")["model"]["name"] == "Fancy Name"


def test_init_next_command_is_quoted_for_the_shell(cli: Cli, tmp_path: Path) -> None:
    directory = tmp_path / "my model"
    result = ok(cli("init", directory))
    assert result.stdout.endswith(f"Next: brace push '{directory}'\n")


def test_init_never_overwrites(cli: Cli, hello: Path) -> None:
    before = (hello / "config.yaml").read_text()
    expect_error(
        cli("init", hello),
        5,
        f"{hello} already exists and is not empty",
        "Choose a new directory name; brace init never overwrites files.",
    )
    assert (hello / "config.yaml").read_text() == before


def test_watch_events_come_after_the_log_lines_they_refer_to(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """ "not applied ... (its log lines above say why)": the lines are printed first, even
    when the log follower has not read them yet."""
    from brace.cli.push import _Printer
    from brace.devserver.events import Event, EventKind
    from brace.devserver.logtail import LogFollower

    log = tmp_path / "deployment.log"
    log.write_text("")
    printer = _Printer()
    follower = LogFollower(
        lambda: log, lambda text: printer(Event(EventKind.LOG, 0, message=text)), interval=60
    )
    printer.drain = follower.drain
    with follower:
        with log.open("a") as file:
            file.write("RuntimeError: the new replica failed\n")
        printer(Event(EventKind.REPLACE_FAILED, 0, message="its log lines above say why"))
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "RuntimeError: the new replica failed"
    assert lines[1].endswith("not applied: its log lines above say why")
