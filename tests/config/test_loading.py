"""load_truss (brace/config/loading.py): the directory, the files the config names, the
model class, and the notices for what cannot apply on this machine.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from brace.config import Notice, load_truss
from brace.errors import ConfigError
from tests.config import OTHER, RUNNING, config_error, load
from tests.conftest import MakeTruss


def test_directory_missing(tmp_path: Path) -> None:
    directory = tmp_path / "nowhere"
    error = config_error(directory)
    assert error.message == f"{directory.resolve()}: no such directory"
    assert error.hint == "Pass the directory of a Truss model."


def test_config_yaml_missing(tmp_path: Path) -> None:
    directory = tmp_path / "empty"
    directory.mkdir()
    error = config_error(directory)
    assert error.message == f"{directory.resolve() / 'config.yaml'}: file not found"
    assert error.hint == "Create one with `brace init DIR`, or pass the model's directory."


def test_config_yml_gets_a_rename_hint(tmp_path: Path) -> None:
    directory = tmp_path / "yml"
    directory.mkdir()
    (directory / "config.yml").write_text("model_name: yml\n")
    error = config_error(directory)
    assert error.message == f"{directory.resolve() / 'config.yaml'}: file not found"
    assert error.hint == "Rename config.yml to config.yaml."


def test_model_file_missing(make_truss: MakeTruss) -> None:
    directory = make_truss("no-model", model=None).resolve()
    error = config_error(directory)
    assert error.message == f"{directory / 'model' / 'model.py'}: model file not found"
    assert error.hint == (
        "The model class lives in model/model.py "
        "(set model_module_dir and model_class_filename in config.yaml to change it)."
    )


@pytest.mark.parametrize(
    ("config", "class_name"),
    [
        pytest.param("model_name: m\n", "Model", id="default-name"),
        pytest.param("model_class_name: MyModel\n", "MyModel", id="configured-name"),
    ],
)
def test_model_class_missing(make_truss: MakeTruss, config: str, class_name: str) -> None:
    source = "class Other:\n    pass\n\n\ndef helper():\n    class Model:\n        pass\n"
    directory = make_truss("no-class", config=config, model=source).resolve()
    error = config_error(directory)
    assert error.message == f"{directory / 'model' / 'model.py'}: class {class_name!r} not found"
    assert error.hint == (
        "Define it at the top level of the file, or set model_class_name in config.yaml."
    )


def test_model_file_syntax_error_names_the_line(make_truss: MakeTruss) -> None:
    source = "class Model:\n    pass\n\ndef broken(:\n    pass\n"
    directory = make_truss("syntax", model=source).resolve()
    error = config_error(directory)
    prefix = f"{directory / 'model' / 'model.py'} line 4: "
    assert error.message.startswith(prefix)
    assert len(error.message) > len(prefix)


@pytest.mark.parametrize(
    "model",
    [
        pytest.param(None, id="model-file-missing"),
        pytest.param("class Other:\n    pass\n", id="class-missing"),
        pytest.param("def broken(:\n", id="syntax-error"),
    ],
)
def test_check_model_false_skips_the_model_file(make_truss: MakeTruss, model: str | None) -> None:
    directory = make_truss("unchecked", config="model_name: unchecked\n", model=model)
    truss = load(directory, check_model=False)
    assert truss.config.model_name == "unchecked"


def test_check_model_false_still_checks_the_config(make_truss: MakeTruss) -> None:
    directory = make_truss("unchecked", config="python_version: py27\n", model=None)
    with pytest.raises(ConfigError):
        load(directory, check_model=False)


# --- notices -------------------------------------------------------------------------


def test_unknown_top_level_field_is_a_notice(make_truss: MakeTruss) -> None:
    directory = make_truss("unknown", config="model_name: m\nwhat_is_this_field: 1\n").resolve()
    truss = load(directory)
    assert truss.config.model_name == "m"
    assert truss.notices == (
        Notice(
            "what_is_this_field",
            f"{directory / 'config.yaml'}: unknown field 'what_is_this_field' is ignored "
            "(Truss rejects unknown fields at push)",
        ),
    )


@pytest.mark.parametrize("section", ["runtime", "resources"])
def test_unknown_nested_field_is_a_notice(make_truss: MakeTruss, section: str) -> None:
    directory = make_truss("nested", config=f"{section}:\n  foo: 1\n").resolve()
    truss = load(directory)
    assert truss.notices == (
        Notice(
            f"{section}.foo",
            f"{directory / 'config.yaml'}: unknown field '{section}.foo' is ignored",
        ),
    )


def test_system_packages_notice(make_truss: MakeTruss) -> None:
    config = "system_packages:\n  - ffmpeg\n  - libsndfile1\n"
    truss = load(make_truss("system", config=config))
    assert truss.config.system_packages == ("ffmpeg", "libsndfile1")
    assert truss.notices == (
        Notice(
            "system_packages",
            "system_packages (ffmpeg, libsndfile1) are not installed by brace; "
            "install them on this machine if the model needs them",
        ),
    )


@pytest.mark.parametrize(
    ("config", "key", "reason"),
    [
        pytest.param(
            "model_cache:\n  - repo_id: org/model\n",
            "model_cache",
            "brace does not download weights; put them in data/ or fetch them in load()",
            id="model_cache",
        ),
        pytest.param(
            "weights:\n  - source: hf://org/model\n",
            "weights",
            "brace does not download weights; put them in data/ or fetch them in load()",
            id="weights",
        ),
        pytest.param(
            "base_image:\n  image: nvcr.io/nvidia/pytorch:23.10-py3\n",
            "base_image",
            "brace runs the model on this machine's Python, not in a base image",
            id="base_image",
        ),
        pytest.param(
            "build_commands:\n  - apt-get install -y ffmpeg\n",
            "build_commands",
            "brace does not run build commands; run them on this machine yourself",
            id="build_commands",
        ),
        pytest.param(
            "external_data:\n  - url: https://example.com/w.bin\n    local_data_path: w.bin\n",
            "external_data",
            "brace does not download external data; put it in data/",
            id="external_data",
        ),
    ],
)
def test_fields_brace_cannot_apply_are_notices(
    make_truss: MakeTruss, config: str, key: str, reason: str
) -> None:
    truss = load(make_truss("not-applied", config=config))
    assert truss.notices == (Notice(key, f"{key} is not applied: {reason}"),)


def test_python_version_of_another_interpreter_is_a_notice(make_truss: MakeTruss) -> None:
    truss = load(make_truss("python", config=f"python_version: {OTHER}\n"))
    assert truss.config.python_version == OTHER
    major, minor = sys.version_info[:2]
    assert truss.notices == (
        Notice(
            "python_version",
            f"python_version is {OTHER}, but brace runs the model on this machine's "
            f"Python {major}.{minor}",
        ),
    )


def test_python_version_of_this_interpreter_is_silent(make_truss: MakeTruss) -> None:
    truss = load(make_truss("python", config=f"python_version: {RUNNING}\n"))
    assert truss.notices == ()


def test_accelerator_without_gpu_is_a_notice(make_truss: MakeTruss) -> None:
    directory = make_truss("gpu", config="resources:\n  accelerator: A10G:2\n")
    truss = load_truss(directory, gpu_available=lambda: False)
    assert truss.config.resources.accelerator == "A10G:2"
    assert truss.notices == (
        Notice(
            "resources.accelerator",
            "resources.accelerator A10G:2 is requested, but this machine has no GPU; "
            "the model runs on the CPU",
        ),
    )


def test_accelerator_with_gpu_is_silent(make_truss: MakeTruss) -> None:
    directory = make_truss("gpu", config="resources:\n  accelerator: A10G:2\n")
    truss = load_truss(directory, gpu_available=lambda: True)
    assert truss.notices == ()


def test_gpu_is_not_probed_without_an_accelerator(make_truss: MakeTruss) -> None:
    def probe() -> bool:
        raise AssertionError("gpu_available called without an accelerator")

    assert load_truss(make_truss("cpu"), gpu_available=probe).notices == ()
