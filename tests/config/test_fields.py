"""config.yaml's fields (brace/config/fields.py): pure table tests.

Every invalid value must raise a ConfigError whose message names the config file, the
field and what is allowed.
"""

from __future__ import annotations

import dataclasses

import pytest

from brace.config import Resources, Runtime
from brace.errors import ExitCode
from tests.config import config_error, load
from tests.conftest import MakeTruss

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
