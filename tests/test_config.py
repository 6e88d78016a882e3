"""config.yaml loading and validation (brace/config.py): pure table tests.

Every invalid value must raise a ConfigError whose message names the config file, the
field and what is allowed; fields that cannot apply on this machine become notices.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path

import pytest

from brace.config import CONFIG_LIMIT, Notice, Resources, Runtime, Truss, load_truss
from brace.errors import ConfigError, ExitCode
from tests.conftest import MakeTruss

RUNNING = f"py{sys.version_info.major}{sys.version_info.minor}"
OTHER = "py310" if RUNNING != "py310" else "py311"


def no_gpu() -> bool:
    return False


def load(directory: Path, *, check_model: bool = True) -> Truss:
    return load_truss(directory, check_model=check_model, gpu_available=no_gpu)


def config_error(directory: Path, *, check_model: bool = True) -> ConfigError:
    with pytest.raises(ConfigError) as raised:
        load(directory, check_model=check_model)
    return raised.value


# --- valid configs -------------------------------------------------------------------


def test_empty_config_gives_the_truss_defaults(make_truss: MakeTruss) -> None:
    directory = make_truss("defaults", config="")
    truss = load(directory)
    config = truss.config
    assert truss.path == directory.resolve()
    assert truss.config_file == directory.resolve() / "config.yaml"
    assert truss.model_file == directory.resolve() / "model" / "model.py"
    assert truss.notices == ()
    assert config.model_name is None
    assert config.python_version == "py311"
    assert config.requirements == ()
    assert config.requirements_file is None
    assert truss.requirements() == ()
    assert config.environment_variables == {}
    assert config.secrets == {}
    assert config.system_packages == ()
    assert config.resources == Resources(cpu="1", memory="2Gi", accelerator=None)
    assert config.runtime == Runtime(predict_concurrency=1)
    assert config.model_module_dir == "model"
    assert config.model_class_filename == "model.py"
    assert config.model_class_name == "Model"
    assert config.bundled_packages_dir == "packages"
    assert config.data_dir == "data"
    assert config.external_package_dirs == ()
    assert config.live_reload is False


def test_config_is_frozen(make_truss: MakeTruss) -> None:
    truss = load(make_truss("frozen"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        truss.config.model_name = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("yaml_name", "expected"),
    [
        pytest.param("hello", "hello", id="plain"),
        pytest.param("basic truss", "basic truss", id="spaces"),
        pytest.param("'  padded  '", "padded", id="stripped"),
        pytest.param("123", "123", id="number-becomes-string"),
    ],
)
def test_model_name(make_truss: MakeTruss, yaml_name: str, expected: str) -> None:
    truss = load(make_truss("named", config=f"model_name: {yaml_name}\n"))
    assert truss.config.model_name == expected
    assert truss.notices == ()


@pytest.mark.parametrize(
    ("yaml_value", "expected"),
    [
        pytest.param("hello", "hello", id="string"),
        pytest.param("'1'", "1", id="quoted-number"),
        pytest.param("1", "1", id="int"),
        pytest.param("0.5", "0.5", id="float"),
        pytest.param("true", "true", id="true"),
        pytest.param("false", "false", id="false"),
        pytest.param("''", "", id="empty-string"),
    ],
)
def test_environment_variable_values_become_strings(
    make_truss: MakeTruss, yaml_value: str, expected: str
) -> None:
    config = f"environment_variables:\n  VALUE: {yaml_value}\n  OTHER: x\n"
    truss = load(make_truss("env", config=config))
    assert truss.config.environment_variables == {"VALUE": expected, "OTHER": "x"}


def test_secrets_with_null_placeholders(make_truss: MakeTruss) -> None:
    config = """\
    secrets:
      hf_access_token: null
      api.key-2:
      openai_key: "***"
    """
    truss = load(make_truss("secrets", config=config))
    assert truss.config.secrets == {
        "hf_access_token": None,
        "api.key-2": None,
        "openai_key": "***",
    }


def test_requirements_list(make_truss: MakeTruss) -> None:
    config = "requirements:\n  - numpy==1.26.4\n  - requests>=2\n"
    truss = load(make_truss("reqs", config=config))
    assert truss.config.requirements == ("numpy==1.26.4", "requests>=2")
    assert truss.requirements() == ("numpy==1.26.4", "requests>=2")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("numpy==1.26.4\nrequests\n", ("numpy==1.26.4", "requests"), id="plain"),
        pytest.param(
            "# pinned for the model\nnumpy==1.26.4\n\n   \nrequests  # http\n",
            ("numpy==1.26.4", "requests"),
            id="comments-and-blank-lines",
        ),
        pytest.param("# nothing yet\n\n", (), id="only-comments"),
        pytest.param(
            # pip only treats '#' as a comment at the start or after whitespace, so a
            # URL's hash fragment is part of the requirement.
            "foo @ https://example.com/foo-1.0-py3-none-any.whl#sha256=abc123\n",
            ("foo @ https://example.com/foo-1.0-py3-none-any.whl#sha256=abc123",),
            id="url-fragment-is-not-a-comment",
        ),
    ],
)
def test_requirements_file(make_truss: MakeTruss, text: str, expected: tuple[str, ...]) -> None:
    directory = make_truss(
        "reqs-file",
        config="requirements_file: requirements.txt\n",
        files={"requirements.txt": text},
    )
    truss = load(directory)
    assert truss.config.requirements_file == "requirements.txt"
    assert truss.config.requirements == ()
    assert truss.requirements() == expected


def test_empty_requirements_list_with_requirements_file(make_truss: MakeTruss) -> None:
    directory = make_truss(
        "reqs-empty",
        config="requirements: []\nrequirements_file: requirements.txt\n",
        files={"requirements.txt": "numpy\n"},
    )
    assert load(directory).requirements() == ("numpy",)


def test_custom_model_location(make_truss: MakeTruss) -> None:
    config = """\
    model_module_dir: src
    model_class_filename: serve.py
    model_class_name: MyModel
    """
    directory = make_truss(
        "custom",
        config=config,
        model=None,
        files={"src/serve.py": "class MyModel:\n    def predict(self, x):\n        return x\n"},
    )
    truss = load(directory)
    assert truss.config.model_module_dir == "src"
    assert truss.config.model_class_filename == "serve.py"
    assert truss.config.model_class_name == "MyModel"
    assert truss.model_file == directory.resolve() / "src" / "serve.py"


@pytest.mark.parametrize(
    "source",
    [
        pytest.param("class Model:\n    pass\n", id="class"),
        pytest.param("class _Impl:\n    pass\n\n\nModel = _Impl\n", id="assignment"),
        pytest.param("from impl import Model\n", id="import-from"),
        pytest.param("from impl import EchoModel as Model\n", id="import-as"),
    ],
)
def test_model_class_found(make_truss: MakeTruss, source: str) -> None:
    # impl.py lives in packages/, which Truss puts on sys.path: importing the class
    # into model.py is a valid way to provide it.
    directory = make_truss(
        "found",
        model=source,
        files={"packages/impl.py": "class Model:\n    pass\n\n\nEchoModel = Model\n"},
    )
    assert load(directory).config.model_class_name == "Model"


def test_external_package_dirs_that_exist(make_truss: MakeTruss) -> None:
    config = "external_package_dirs:\n  - ../shared\n  - libs\n"
    directory = make_truss(
        "external",
        config=config,
        files={"../shared/helper.py": "", "libs/tool.py": ""},
    )
    assert load(directory).config.external_package_dirs == ("../shared", "libs")


@pytest.mark.parametrize(
    ("resources", "expected"),
    [
        pytest.param("cpu: '500m'", Resources(cpu="500m"), id="cpu-millicores"),
        pytest.param("cpu: '1.5'", Resources(cpu="1.5"), id="cpu-fraction"),
        pytest.param("memory: 512Mi", Resources(memory="512Mi"), id="memory-Mi"),
        pytest.param("memory: 512Ki", Resources(memory="512Ki"), id="memory-Ki"),
        pytest.param("memory: 1G", Resources(memory="1G"), id="memory-G"),
        pytest.param("memory: '1024'", Resources(memory="1024"), id="memory-bytes"),
        pytest.param("accelerator: H100", Resources(accelerator="H100"), id="accelerator"),
        pytest.param(
            "accelerator: A10G:2", Resources(accelerator="A10G:2"), id="accelerator-count"
        ),
        pytest.param("node_count: 2", Resources(node_count=2), id="node-count"),
        pytest.param("use_gpu: false", Resources(), id="use-gpu"),
    ],
)
def test_valid_resources(make_truss: MakeTruss, resources: str, expected: Resources) -> None:
    truss = load(make_truss("resources", config=f"resources:\n  {resources}\n"))
    assert truss.config.resources == expected


def test_runtime_values(make_truss: MakeTruss) -> None:
    config = """\
    runtime:
      predict_concurrency: 8
      streaming_read_timeout: 5
      enable_debug_logs: true
      num_workers: 1
    model_metadata:
      brace:
        first_byte_timeout: 2.5
    """
    truss = load(make_truss("runtime", config=config))
    assert truss.config.runtime == Runtime(
        predict_concurrency=8,
        streaming_read_timeout=5,
        enable_debug_logs=True,
        first_byte_timeout=2.5,
    )
    assert truss.notices == ()


def test_live_reload(make_truss: MakeTruss) -> None:
    assert load(make_truss("reload", config="live_reload: true\n")).config.live_reload is True


# --- invalid configs -----------------------------------------------------------------

# {config} is the config file's path and {dir} the model directory's.
INVALID = [
    pytest.param(
        "model_name: ok\n  bad: x\n",
        {},
        "{config} line 2: mapping values are not allowed here",
        id="unparseable-yaml",
    ),
    pytest.param(
        "- model_name\n- other\n",
        {},
        "{config}: expected a mapping of fields at the top level, got a list",
        id="top-level-list",
    ),
    pytest.param(
        "just some text\n",
        {},
        "{config}: expected a mapping of fields at the top level, got a string ('just some text')",
        id="top-level-string",
    ),
    pytest.param(
        "model_name: ''\n",
        {},
        "{config}: field 'model_name': must not be empty",
        id="model-name-empty",
    ),
    pytest.param(
        "model_name: [a, b]\n",
        {},
        "{config}: field 'model_name': expected a string, got a list",
        id="model-name-list",
    ),
    pytest.param(
        "python_version: py27\n",
        {},
        "{config}: field 'python_version': expected one of "
        "py38, py39, py310, py311, py312, py313, py314, got 'py27'",
        id="python-version-py27",
    ),
    pytest.param(
        "requirements: [numpy]\nrequirements_file: requirements.txt\n",
        {"requirements.txt": "numpy\n"},
        "{config}: field 'requirements': "
        "set either 'requirements' or 'requirements_file', not both",
        id="requirements-and-requirements-file",
    ),
    pytest.param(
        "requirements_file: requirements.txt\n",
        {},
        "{config}: field 'requirements_file': file not found: {dir}/requirements.txt",
        id="requirements-file-missing",
    ),
    pytest.param(
        # A file outside the directory is not in a published deployment's snapshot.
        "requirements_file: ../requirements.txt\n",
        {"../requirements.txt": "numpy\n"},
        "{config}: field 'requirements_file': "
        "expected a path inside the model directory, got '../requirements.txt'",
        id="requirements-file-outside",
    ),
    pytest.param(
        "requirements: numpy\n",
        {},
        "{config}: field 'requirements': expected a list of strings, got a string ('numpy')",
        id="requirements-not-a-list",
    ),
    pytest.param(
        "requirements:\n  - numpy\n  - 3\n",
        {},
        "{config}: field 'requirements': expected a list of strings, found int (3)",
        id="requirements-non-string",
    ),
    pytest.param(
        "environment_variables:\n  FOO: [1, 2]\n",
        {},
        "{config}: field 'environment_variables.FOO': "
        "expected a string, number or boolean, got a list",
        id="environment-variable-list",
    ),
    pytest.param(
        "environment_variables: [FOO]\n",
        {},
        "{config}: field 'environment_variables': expected a mapping, got a list",
        id="environment-variables-list",
    ),
    pytest.param(
        "secrets:\n  - hf_access_token\n",
        {},
        "{config}: field 'secrets': expected a mapping of secret name to placeholder, got a list",
        id="secrets-list",
    ),
    pytest.param(
        "secrets:\n  bad name: null\n",
        {},
        "{config}: field 'secrets': "
        "invalid secret name 'bad name': use letters, digits, '-', '_' and '.'",
        id="secret-name-invalid",
    ),
    pytest.param(
        "resources:\n  cpu: 1\n",
        {},
        '{config}: field \'resources.cpu\': expected a string like "1", "1.5" or "500m", got 1',
        id="cpu-int",
    ),
    pytest.param(
        "resources:\n  cpu: abc\n",
        {},
        "{config}: field 'resources.cpu': "
        'expected a string like "1", "1.5" or "500m", got \'abc\'',
        id="cpu-abc",
    ),
    pytest.param(
        "resources:\n  memory: 1m\n",
        {},
        '{config}: field \'resources.memory\': expected a string like "512Mi" or "2Gi" '
        "(units k, M, G, T, Ki, Mi, Gi, Ti), got '1m'",
        id="memory-1m",
    ),
    pytest.param(
        "resources:\n  memory: 1ki\n",
        {},
        '{config}: field \'resources.memory\': expected a string like "512Mi" or "2Gi" '
        "(units k, M, G, T, Ki, Mi, Gi, Ti), got '1ki'",
        id="memory-1ki",
    ),
    pytest.param(
        "resources:\n  accelerator: Z99\n",
        {},
        "{config}: field 'resources.accelerator': unsupported accelerator 'Z99'; "
        "expected one of B10, T4, L4, A10G, V100, A100, A100_40GB, H100, H200, "
        "H100_40GB, B200, L40S, RTX_PRO_6000",
        id="accelerator-unknown",
    ),
    pytest.param(
        "resources:\n  accelerator: T4:0\n",
        {},
        "{config}: field 'resources.accelerator': count must be a whole number from 1 to 64, "
        "got '0'",
        id="accelerator-count-zero",
    ),
    pytest.param(
        "resources:\n  node_count: 0\n",
        {},
        "{config}: field 'resources.node_count': expected a whole number from 1 to 1000, got 0",
        id="node-count-zero",
    ),
    pytest.param(
        "runtime:\n  predict_concurrency: 0\n",
        {},
        "{config}: field 'runtime.predict_concurrency': expected a whole number from 1 to "
        "10000, got 0",
        id="predict-concurrency-zero",
    ),
    pytest.param(
        "runtime:\n  predict_concurrency: x\n",
        {},
        "{config}: field 'runtime.predict_concurrency': expected a whole number from 1 to "
        "10000, got 'x'",
        id="predict-concurrency-string",
    ),
    pytest.param(
        "runtime:\n  predict_concurrency: true\n",
        {},
        "{config}: field 'runtime.predict_concurrency': expected a whole number from 1 to "
        "10000, got True",
        id="predict-concurrency-bool",
    ),
    *(
        pytest.param(
            f"model_metadata:\n  brace:\n    first_byte_timeout: {value}\n",
            {},
            "{config}: field 'model_metadata.brace.first_byte_timeout': expected seconds, "
            "a number > 0 "
            f"and <= 86400, got {shown}",
            id=f"first-byte-timeout-{name}",
        )
        for name, value, shown in (
            ("zero", "0", "0"),
            ("negative", "-1", "-1"),
            ("nan", ".nan", "nan"),
            ("huge", "1.0e+4000", "inf"),
            ("exponent-text", "1e4000", "'1e4000'"),
            ("string", "soon", "'soon'"),
            ("bool", "true", "True"),
        )
    ),
    pytest.param(
        "runtime:\n  predict_concurrency: 1" + "0" * 4000 + "\n",
        {},
        "{config}: field 'runtime.predict_concurrency': expected a whole number from 1 to "
        "10000, got a number of about 4001 digits",
        id="predict-concurrency-10^4000",
    ),
    pytest.param(
        "runtime:\n  streaming_read_timeout: .inf\n",
        {},
        "{config}: field 'runtime.streaming_read_timeout': expected a whole number from 1 to "
        "86400, got inf",
        id="streaming-read-timeout-inf",
    ),
    pytest.param(
        "resources:\n  accelerator: T4:" + "9" * 5000 + "\n",
        {},
        "{config}: field 'resources.accelerator': count must be a whole number from 1 to 64, "
        "got '" + "9" * 40 + "'",
        id="accelerator-count-5000-digits",
    ),
    pytest.param(
        "runtime:\n  num_workers: 2\n",
        {},
        "{config}: field 'runtime.num_workers': only 1 worker per server is allowed",
        id="num-workers-2",
    ),
    pytest.param(
        "model_module_dir: /abs/model\n",
        {},
        "{config}: field 'model_module_dir': "
        "expected a path inside the model directory, got '/abs/model'",
        id="model-module-dir-absolute",
    ),
    pytest.param(
        "model_module_dir: ../model\n",
        {},
        "{config}: field 'model_module_dir': "
        "expected a path inside the model directory, got '../model'",
        id="model-module-dir-parent",
    ),
    pytest.param(
        "model_class_name: not a name\n",
        {},
        "{config}: field 'model_class_name': expected a Python class name, got 'not a name'",
        id="model-class-name",
    ),
    pytest.param(
        "live_reload: sometimes\n",
        {},
        "{config}: field 'live_reload': expected true or false, got a string ('sometimes')",
        id="live-reload-string",
    ),
    pytest.param(
        "external_package_dirs:\n  - missing\n",
        {},
        "{config}: field 'external_package_dirs': directory not found: {dir}/missing",
        id="external-package-dir-missing",
    ),
]


@pytest.mark.parametrize(("config", "files", "expected"), INVALID)
def test_invalid_config(
    make_truss: MakeTruss, config: str, files: dict[str, str], expected: str
) -> None:
    directory = make_truss("invalid", config=config, files=files).resolve()
    error = config_error(directory)
    assert error.message == expected.replace("{config}", str(directory / "config.yaml")).replace(
        "{dir}", str(directory)
    )
    assert error.exit_code == ExitCode.REFUSED


def test_docker_server_is_refused_with_a_hint(make_truss: MakeTruss) -> None:
    config = "docker_server:\n  start_command: vllm serve\n  server_port: 8000\n"
    directory = make_truss("docker", config=config).resolve()
    error = config_error(directory)
    assert error.message == (
        f"{directory / 'config.yaml'}: field 'docker_server': a custom Docker server "
        "cannot run here; brace runs models without Docker"
    )
    assert error.hint == "Serve the model from model/model.py instead."


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


# --- reading config.yaml safely (docs/security.md, "Limits") -------------------------


def test_config_yaml_at_the_size_limit_is_read(make_truss: MakeTruss) -> None:
    head = "model_name: big\nmodel_metadata:\n  blob: "
    config = head + "x" * (CONFIG_LIMIT - len(head) - 1) + "\n"
    assert len(config) == CONFIG_LIMIT
    truss = load(make_truss("big", config=config))
    assert len(truss.config.model_metadata["blob"]) == CONFIG_LIMIT - len(head) - 1


def test_config_yaml_over_the_size_limit_is_refused_before_parsing(
    make_truss: MakeTruss,
) -> None:
    """A 50 MB model_metadata froze the server while it was parsed; brace reads at
    most CONFIG_LIMIT bytes of config.yaml."""
    directory = make_truss("huge", config="model_name: huge\n")
    config = directory / "config.yaml"
    with open(config, "a") as file:
        file.write("model_metadata:\n  blob: ")
        file.truncate(50 * 1024 * 1024)
    error = config_error(directory)
    assert error.message == f"{config.resolve()}: 50 MiB, over brace's limit of 1 MiB for this file"
    assert error.hint == (
        "model_metadata is for small facts: put large data in a file under data/ and read "
        "it in load()."
    )
    assert error.exit_code == ExitCode.REFUSED


def test_config_yaml_that_is_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    directory = tmp_path / "fifo"
    directory.mkdir()
    os.mkfifo(directory / "config.yaml")
    error = config_error(directory)  # a blocking read would wait here for a writer
    assert error.message == (
        f"{directory.resolve() / 'config.yaml'}: a FIFO (named pipe), not a regular file"
    )


def test_config_yaml_that_is_not_text(make_truss: MakeTruss) -> None:
    directory = make_truss("binary")
    (directory / "config.yaml").write_bytes(b"model_name: \xff\xfe\n")
    error = config_error(directory)
    assert error.message == f"{directory.resolve() / 'config.yaml'}: not UTF-8 text (byte 12)"


def test_requirements_file_that_is_a_device_is_refused(make_truss: MakeTruss) -> None:
    directory = make_truss("dev", config="requirements_file: reqs.txt\n")
    (directory / "reqs.txt").symlink_to("/dev/zero")
    error = config_error(directory)
    assert "reqs.txt" in error.message


def test_requirements_file_over_the_size_limit_is_refused(make_truss: MakeTruss) -> None:
    directory = make_truss("reqs", config="requirements_file: reqs.txt\n")
    with open(directory / "reqs.txt", "w") as file:
        file.truncate(CONFIG_LIMIT + 1)
    truss = load(directory)
    with pytest.raises(ConfigError) as raised:
        truss.requirements()
    assert raised.value.message == (
        f"{directory.resolve() / 'reqs.txt'}: 1048577 bytes, over brace's limit of "
        "1048576 bytes for this file"
    )


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
