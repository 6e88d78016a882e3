"""`brace init DIR` (brace/scaffold.py, brace/cli/init.py): the new directory is a Truss
that loads without notices and whose model serves as it is."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest

from brace.config import Truss, load_truss
from brace.errors import RefusedError
from brace.scaffold import default_model_name, scaffold
from tests.conftest import Cli

REFUSED_HINT = "Choose a new directory name; brace init never overwrites files."


def load(directory: Path) -> Truss:
    return load_truss(directory, gpu_available=lambda: False)


def test_init_creates_a_truss(cli: Cli, tmp_path: Path) -> None:
    target = tmp_path / "my-model"
    result = cli("init", target)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == (
        f"Created {target.resolve()} (model my-model). Next: brace push {target}\n"
    )
    assert (target / "config.yaml").is_file()
    assert (target / "model" / "model.py").is_file()
    assert (target / "data").is_dir()
    assert (target / "packages").is_dir()
    truss = load(target)
    assert truss.notices == ()
    assert truss.config.model_name == "my-model"
    assert truss.model_file == target.resolve() / "model" / "model.py"
    assert truss.requirements() == ()


def test_init_targets_the_running_python(cli: Cli, tmp_path: Path) -> None:
    # A python_version other than this interpreter's would be a notice on every push.
    target = tmp_path / "py"
    assert cli("init", target).exit_code == 0
    major, minor = sys.version_info[:2]
    assert load(target).config.python_version == f"py{major}{minor}"


def test_init_with_model_name(cli: Cli, tmp_path: Path) -> None:
    target = tmp_path / "dir-name"
    result = cli("init", target, "--model-name", "Sentiment v2")
    assert result.exit_code == 0, result.stderr
    assert load(target).config.model_name == "Sentiment v2"


def test_init_json_output(cli: Cli, tmp_path: Path) -> None:
    target = tmp_path / "json-model"
    result = cli("init", target, "-o", "json")
    assert result.exit_code == 0, result.stderr
    assert result.json() == {"path": str(target.resolve()), "model_name": "json-model"}


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param(("--model-name", "sentiment: v2"), "sentiment: v2", id="colon"),
        pytest.param(("--model-name", "#1 model"), "#1 model", id="hash"),
        pytest.param(("--model-name", "[draft]"), "[draft]", id="brackets"),
        pytest.param(("--model-name", "true"), "true", id="yaml-bool"),
        pytest.param(("--model-name", "null"), "null", id="yaml-null"),
        pytest.param((), "yes", id="dir-named-yes"),
    ],
)
def test_init_model_names_that_look_like_yaml(
    cli: Cli, tmp_path: Path, args: tuple[str, ...], expected: str
) -> None:
    # The name is written into config.yaml; it must come back as the same string.
    target = tmp_path / "yes"
    result = cli("init", target, *args, "-o", "json")
    assert result.exit_code == 0, result.stderr
    assert result.json()["model_name"] == expected
    assert load(target).config.model_name == expected


def test_init_into_an_empty_directory(cli: Cli, tmp_path: Path) -> None:
    target = tmp_path / "empty"
    target.mkdir()
    assert cli("init", target).exit_code == 0
    assert load(target).config.model_name == "empty"


def test_init_refuses_a_non_empty_directory(cli: Cli, tmp_path: Path) -> None:
    target = tmp_path / "taken"
    target.mkdir()
    (target / "config.yaml").write_text("model_name: mine\n")
    (target / "notes.txt").write_text("keep me")
    result = cli("init", target)
    assert result.exit_code == 5  # invalid or refused (DESIGN.md)
    assert result.stdout == ""
    assert result.stderr == (
        f"Error: {target} already exists and is not empty\nHint: {REFUSED_HINT}\n"
    )
    assert sorted(p.name for p in target.iterdir()) == ["config.yaml", "notes.txt"]
    assert (target / "config.yaml").read_text() == "model_name: mine\n"
    assert (target / "notes.txt").read_text() == "keep me"


def test_init_refusal_as_json(cli: Cli, tmp_path: Path) -> None:
    target = tmp_path / "taken"
    target.mkdir()
    (target / "notes.txt").write_text("keep me")
    result = cli("init", target, "-o", "json")
    assert result.exit_code == 5  # invalid or refused (DESIGN.md)
    assert result.json() == {
        "error": f"{target} already exists and is not empty",
        "hint": REFUSED_HINT,
    }


def test_init_refuses_an_existing_file(cli: Cli, tmp_path: Path) -> None:
    target = tmp_path / "a-file"
    target.write_text("not a directory")
    result = cli("init", target)
    assert result.exit_code == 5  # invalid or refused (DESIGN.md)
    assert "already exists and is not empty" in result.stderr
    assert target.read_text() == "not a directory"


def test_scaffold_creates_parents_and_returns_the_resolved_path(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "model-dir"
    assert scaffold(target) == target.resolve()
    assert load(target).config.model_name == "model-dir"


def test_scaffold_refusal_is_a_refused_error(tmp_path: Path) -> None:
    (tmp_path / "existing.txt").write_text("")
    with pytest.raises(RefusedError) as raised:
        scaffold(tmp_path, "x")
    assert raised.value.message == f"{tmp_path} already exists and is not empty"
    assert raised.value.hint == REFUSED_HINT


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param("my-model", "my-model", id="plain"),
        pytest.param("basic truss", "basic truss", id="spaces"),
        pytest.param("v1.2_final", "v1.2_final", id="dots-underscores"),
        pytest.param("weird@name!", "weird-name-", id="symbols-replaced"),
    ],
)
def test_default_model_name(tmp_path: Path, name: str, expected: str) -> None:
    assert default_model_name(tmp_path / name) == expected


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({}, id="no-kwargs"),
        pytest.param(
            {"config": {"model_name": "m"}, "data_dir": Path("data"), "secrets": {}},
            id="truss-kwargs",
        ),
    ],
)
def test_generated_model_serves(cli: Cli, tmp_path: Path, kwargs: dict[str, Any]) -> None:
    target = tmp_path / "served"
    assert cli("init", target).exit_code == 0
    spec = importlib.util.spec_from_file_location(
        "brace_test_scaffold_model", target / "model" / "model.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    model = module.Model(**kwargs)
    model.load()
    assert model.predict({"x": 1}) == {"echo": {"x": 1}}
