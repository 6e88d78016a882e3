"""Loading and validating a Truss-format model directory.

A Truss is a directory with `config.yaml`, the model class in `model/model.py` and
optionally `packages/` and `data/`. `load_truss` reads it into a frozen `TrussConfig`
and a list of `Notice`s (unknown keys, fields that cannot apply on this machine).
Every error names the file, the field and what is allowed, so a user can fix the
config without reading brace's code. Nothing here imports the user's model: the model
file is only parsed, so a push never runs user code.
"""

from __future__ import annotations

import ast
import json
import re
import shutil
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from brace.errors import ConfigError
from brace.files import FileTooLarge, SpecialFileError, describe_sizes, read_text_limited
from brace.ranges import CONFIG_RANGES, shown

CONFIG_FILE = "config.yaml"
# The largest config.yaml (and requirements file) brace reads, in bytes. PyYAML's
# parser needs about 1.3 s per MiB on a small machine, and model_metadata is meant for
# small facts (example inputs, tags); data belongs in data/. See docs/security.md.
CONFIG_LIMIT = 1024 * 1024
# In a published deployment's snapshot (brace/services/snapshots.py), external package
# directories are copied in, and this file maps each configured name to its copy.
SNAPSHOT_MANIFEST = "brace-snapshot.json"

PYTHON_VERSIONS = ("py38", "py39", "py310", "py311", "py312", "py313", "py314")
ACCELERATORS = (
    "B10",
    "T4",
    "L4",
    "A10G",
    "V100",
    "A100",
    "A100_40GB",
    "H100",
    "H200",
    "H100_40GB",
    "B200",
    "L40S",
    "RTX_PRO_6000",
)

# Keys Truss accepts that brace reads.
_KNOWN = {
    "model_name",
    "model_metadata",
    "description",
    "examples_filename",
    "data_dir",
    "external_data",
    "external_package_dirs",
    "python_version",
    "base_image",
    "requirements_file",
    "requirements",
    "system_packages",
    "environment_variables",
    "secrets",
    "resources",
    "runtime",
    "build",
    "build_commands",
    "docker_server",
    "model_cache",
    "weights",
    "trt_llm",
    "training_checkpoints",
    "input_type",
    "model_framework",
    "model_type",
    "model_module_dir",
    "model_class_filename",
    "model_class_name",
    "bundled_packages_dir",
    "use_local_src",
    "cache_internal",
    "live_reload",
    "apply_library_patches",
    "spec_version",
}

# Truss fields that need Baseten's build or hardware: accepted, and reported because
# brace cannot apply them here.
_NO_WEIGHTS = "brace does not download weights; put them in data/ or fetch them in load()"
_NOT_APPLIED = {
    "base_image": "brace runs the model on this machine's Python, not in a base image",
    "build_commands": "brace does not run build commands; run them on this machine yourself",
    "model_cache": _NO_WEIGHTS,
    "weights": _NO_WEIGHTS,
    "external_data": "brace does not download external data; put it in data/",
    "trt_llm": "TensorRT-LLM engines need a GPU image that brace does not build",
    "training_checkpoints": "brace does not download training checkpoints",
}

FIRST_BYTE_TIMEOUT = 1200.0
"""Default `model_metadata.brace.first_byte_timeout` (seconds): Baseten's timeout of a
sync predict."""

MAX_FIRST_BYTE_TIMEOUT = 86400.0
"""The largest `model_metadata.brace.first_byte_timeout` accepted (a day): NaN, infinity and values
that would overflow a timer are refused."""

_RUNTIME_KNOWN = {
    "predict_concurrency",
    "streaming_read_timeout",
    "enable_tracing_data",
    "enable_debug_logs",
    "transport",
    "is_websocket_endpoint",
    "health_checks",
    "remote_ssh",
    "truss_server_version_override",
    "num_workers",
}
_RESOURCES_KNOWN = {"cpu", "memory", "use_gpu", "accelerator", "instance_type", "node_count"}
_CPU = re.compile(r"^(\d+(\.\d+)?|\d+m)$")
_MEMORY = re.compile(r"^\d+(\.\d+)?(k|M|G|T|Ki|Mi|Gi|Ti)?$")


@dataclass(frozen=True)
class Notice:
    """Something the user should know about their config that does not stop brace."""

    field: str
    message: str


@dataclass(frozen=True)
class Resources:
    cpu: str = "1"
    memory: str = "2Gi"
    accelerator: str | None = None
    instance_type: str | None = None
    node_count: int | None = None


@dataclass(frozen=True)
class Runtime:
    predict_concurrency: int = 1
    streaming_read_timeout: int = 60
    enable_debug_logs: bool = False
    first_byte_timeout: float = FIRST_BYTE_TIMEOUT
    """Seconds a request waits for the first byte of a replica's answer before the
    gateway answers 504 (docs/serving.md). Not a Truss field (Truss refuses unknown
    ones at push): it is read from `model_metadata.brace.first_byte_timeout`, which
    Truss and Baseten leave alone."""


@dataclass(frozen=True)
class TrussConfig:
    model_name: str | None = None
    description: str | None = None
    model_metadata: Mapping[str, Any] = field(default_factory=dict)
    python_version: str = "py311"
    requirements: tuple[str, ...] = ()
    requirements_file: str | None = None
    environment_variables: Mapping[str, str] = field(default_factory=dict)
    secrets: Mapping[str, str | None] = field(default_factory=dict)
    system_packages: tuple[str, ...] = ()
    resources: Resources = field(default_factory=Resources)
    runtime: Runtime = field(default_factory=Runtime)
    model_module_dir: str = "model"
    model_class_filename: str = "model.py"
    model_class_name: str = "Model"
    bundled_packages_dir: str = "packages"
    external_package_dirs: tuple[str, ...] = ()
    data_dir: str = "data"
    live_reload: bool = False
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Truss:
    """A loaded model directory: where it is, its config, and what to tell the user."""

    path: Path
    config: TrussConfig
    notices: tuple[Notice, ...] = ()

    @property
    def config_file(self) -> Path:
        return self.path / CONFIG_FILE

    @property
    def model_file(self) -> Path:
        return self.path / self.config.model_module_dir / self.config.model_class_filename

    def external_package_paths(self) -> tuple[Path, ...]:
        """The external package directories, in a live directory or a snapshot."""
        names = self.config.external_package_dirs
        manifest = self.path / SNAPSHOT_MANIFEST
        mapping: dict[str, str] = {}
        if manifest.is_file():
            mapping = json.loads(manifest.read_text()).get("external_package_dirs", {})
        return tuple((self.path / mapping.get(name, name)).resolve() for name in names)

    def requirements(self) -> tuple[str, ...]:
        """The pip requirements, from `requirements` or the requirements file."""
        if self.config.requirements_file is None:
            return self.config.requirements
        text = _read_text(self.path / self.config.requirements_file, missing_ok=True)
        # pip: '#' starts a comment at the start of a line or after white space only
        # (a URL's '#sha256=...' fragment is not a comment).
        lines = (re.sub(r"(^|\s)#.*$", "", line).strip() for line in text.splitlines())
        return tuple(line for line in lines if line)


def gpu_present() -> bool:
    return shutil.which("nvidia-smi") is not None or Path("/dev/nvidia0").exists()


def load_truss(
    directory: Path | str,
    *,
    check_model: bool = True,
    gpu_available: Callable[[], bool] = gpu_present,
) -> Truss:
    """Read and validate the Truss in `directory`; raise ConfigError on any invalid value."""
    path = Path(directory).resolve()
    config_path = path / CONFIG_FILE
    if not path.is_dir():
        raise ConfigError(f"{path}: no such directory", "Pass the directory of a Truss model.")
    if not config_path.is_file() and not config_path.exists():
        hint = "Create one with `brace init DIR`, or pass the model's directory."
        if (path / "config.yml").is_file():
            hint = "Rename config.yml to config.yaml."
        raise ConfigError(f"{config_path}: file not found", hint)
    raw = _read_yaml(config_path)
    checker = _Checker(config_path)
    config = checker.config(raw)
    notices = [*checker.notices, *_machine_notices(config, raw, gpu_available)]
    truss = Truss(path=path, config=config, notices=tuple(notices))
    _check_files(truss, checker, check_model)
    return truss


def folder_model_name(directory: Path) -> str | None:
    """The `model_name` of `directory`/config.yaml: the model a command run in a
    model's folder is about (`truss predict` uses it too). None when there is no
    readable config.yaml or it names no model; an invalid one is `push`'s to report."""
    config_path = directory / CONFIG_FILE
    if not config_path.is_file():
        return None
    try:
        name = _read_yaml(config_path).get("model_name")
    except ConfigError:
        return None
    return name.strip() or None if isinstance(name, str) else None


def _read_text(path: Path, *, missing_ok: bool = False, large_hint: str | None = None) -> str:
    """The text of a file brace parses: regular, UTF-8, at most CONFIG_LIMIT bytes.

    With `missing_ok`, a file that is gone raises FileNotFoundError (a caller that
    checked it moments ago treats that as a change on disk); any other failure is a
    ConfigError naming the file.
    """
    try:
        return read_text_limited(path, CONFIG_LIMIT)
    except FileTooLarge as error:
        size, limit = describe_sizes(error.size, CONFIG_LIMIT)
        raise ConfigError(
            f"{path}: {size}, over brace's limit of {limit} for this file",
            large_hint,
        ) from None
    except SpecialFileError as error:
        raise ConfigError(f"{path}: {error.strerror}") from None
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path}: not UTF-8 text (byte {error.start})") from None
    except FileNotFoundError:
        if missing_ok:
            raise
        raise ConfigError(f"{path}: file not found") from None
    except OSError as error:
        raise ConfigError(f"{path}: cannot read it ({error.strerror})") from None


def _read_yaml(config_path: Path) -> dict[str, Any]:
    text = _read_text(
        config_path,
        large_hint="model_metadata is for small facts: put large data in a file under "
        "data/ and read it in load().",
    )
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "not valid YAML"
        raise ConfigError(f"{config_path}{where}: {problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{config_path}: expected a mapping of fields at the top level, got {_kind(data)}"
        )
    return data


def _kind(value: object) -> str:
    names = {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean"}
    for kind, name in names.items():
        if isinstance(value, kind):
            return f"{name} ({value!r})" if kind in (str, bool) else name
    if value is None:
        return "nothing (null)"
    return f"{type(value).__name__} ({value!r})"


class _Checker:
    """Turns the parsed YAML into a TrussConfig, one field at a time."""

    def __init__(self, config_path: Path) -> None:
        self.config_path = config_path
        self.notices: list[Notice] = []

    def fail(self, name: str, message: str) -> ConfigError:
        return ConfigError(f"{self.config_path}: field '{name}': {message}")

    def expect(self, name: str, value: object, kind: type | tuple[type, ...], what: str) -> Any:
        if isinstance(value, bool) and kind in (int, (int, float)):
            raise self.fail(name, f"expected {what}, got {_kind(value)}")
        if not isinstance(value, kind):
            raise self.fail(name, f"expected {what}, got {_kind(value)}")
        return value

    def optional_str(self, raw: Mapping[str, Any], name: str, prefix: str = "") -> str | None:
        value = raw.get(name)
        if value is None:
            return None
        return str(self.expect(prefix + name, value, str, "a string"))

    def str_list(self, raw: Mapping[str, Any], name: str) -> tuple[str, ...]:
        value = raw.get(name)
        if value is None:
            return ()
        self.expect(name, value, list, "a list of strings")
        for item in value:
            if not isinstance(item, str):
                raise self.fail(name, f"expected a list of strings, found {_kind(item)}")
        return tuple(value)

    def config(self, raw: dict[str, Any]) -> TrussConfig:
        for key in raw:
            if key not in _KNOWN:
                self.notices.append(
                    Notice(
                        key,
                        f"{self.config_path}: unknown field '{key}' is ignored "
                        "(Truss rejects unknown fields at push)",
                    )
                )
        if raw.get("docker_server") is not None:
            raise ConfigError(
                f"{self.config_path}: field 'docker_server': a custom Docker server "
                "cannot run here; brace runs models without Docker",
                "Serve the model from model/model.py instead.",
            )
        requirements = self.str_list(raw, "requirements")
        requirements_file = (
            self.path_field(raw, "requirements_file", "")
            if raw.get("requirements_file") is not None
            else None
        )
        if requirements and requirements_file:
            raise self.fail(
                "requirements",
                "set either 'requirements' or 'requirements_file', not both",
            )
        python_version = raw.get("python_version", "py311")
        if python_version not in PYTHON_VERSIONS:
            raise self.fail(
                "python_version",
                f"expected one of {', '.join(PYTHON_VERSIONS)}, got {python_version!r}",
            )
        return TrussConfig(
            model_name=self.model_name(raw),
            description=self.optional_str(raw, "description"),
            model_metadata=self.mapping(raw, "model_metadata"),
            python_version=python_version,
            requirements=requirements,
            requirements_file=requirements_file,
            environment_variables=self.environment_variables(raw),
            secrets=self.secrets(raw),
            system_packages=self.str_list(raw, "system_packages"),
            resources=self.resources(raw.get("resources")),
            runtime=replace(
                self.runtime(raw.get("runtime")),
                first_byte_timeout=self.first_byte_timeout(self.mapping(raw, "model_metadata")),
            ),
            model_module_dir=self.path_field(raw, "model_module_dir", "model"),
            model_class_filename=self.path_field(raw, "model_class_filename", "model.py"),
            model_class_name=self.identifier(raw, "model_class_name", "Model"),
            bundled_packages_dir=self.path_field(raw, "bundled_packages_dir", "packages"),
            external_package_dirs=self.str_list(raw, "external_package_dirs"),
            data_dir=self.path_field(raw, "data_dir", "data"),
            live_reload=bool(
                self.expect("live_reload", raw.get("live_reload", False), bool, "true or false")
            ),
            raw=raw,
        )

    def model_name(self, raw: Mapping[str, Any]) -> str | None:
        name = raw.get("model_name")
        if name is None:
            return None
        if isinstance(name, (int, float)) and not isinstance(name, bool):
            name = str(name)
        name = self.expect("model_name", name, str, "a string").strip()
        if not name:
            raise self.fail("model_name", "must not be empty")
        return str(name)

    def mapping(self, raw: Mapping[str, Any], name: str) -> dict[str, Any]:
        value = raw.get(name)
        if value is None:
            return {}
        return dict(self.expect(name, value, dict, "a mapping"))

    def path_field(self, raw: Mapping[str, Any], name: str, default: str) -> str:
        value = raw.get(name, default)
        value = self.expect(name, value, str, "a relative path")
        if not value or Path(value).is_absolute() or ".." in Path(value).parts:
            raise self.fail(name, f"expected a path inside the model directory, got {value!r}")
        return str(value)

    def identifier(self, raw: Mapping[str, Any], name: str, default: str) -> str:
        value = self.expect(name, raw.get(name, default), str, "a Python class name")
        if not value.isidentifier():
            raise self.fail(name, f"expected a Python class name, got {value!r}")
        return str(value)

    def environment_variables(self, raw: Mapping[str, Any]) -> dict[str, str]:
        values = self.mapping(raw, "environment_variables")
        result = {}
        for key, value in values.items():
            if not isinstance(key, str) or not key:
                raise self.fail("environment_variables", f"invalid variable name {key!r}")
            if isinstance(value, (dict, list)) or value is None:
                raise self.fail(
                    f"environment_variables.{key}",
                    f"expected a string, number or boolean, got {_kind(value)}",
                )
            # Truss turns every value into a string; booleans become "true"/"false".
            result[key] = str(value).lower() if isinstance(value, bool) else str(value)
        return result

    def secrets(self, raw: Mapping[str, Any]) -> dict[str, str | None]:
        value = raw.get("secrets")
        if value is None:
            return {}
        if isinstance(value, list):
            raise self.fail(
                "secrets",
                "expected a mapping of secret name to placeholder, got a list",
            )
        values = self.expect("secrets", value, dict, "a mapping of secret name to placeholder")
        result: dict[str, str | None] = {}
        for key, placeholder in values.items():
            if not isinstance(key, str) or not re.fullmatch(r"[-._a-zA-Z0-9]+", key):
                raise self.fail(
                    "secrets",
                    f"invalid secret name {key!r}: use letters, digits, '-', '_' and '.'",
                )
            result[key] = None if placeholder is None else str(placeholder)
        return result

    def resources(self, value: object) -> Resources:
        if value is None:
            return Resources()
        values = self.expect("resources", value, dict, "a mapping")
        for key in values:
            if key not in _RESOURCES_KNOWN:
                self.notices.append(
                    Notice(
                        f"resources.{key}",
                        f"{self.config_path}: unknown field 'resources.{key}' is ignored",
                    )
                )
        cpu = values.get("cpu", "1")
        if not isinstance(cpu, str) or not _CPU.match(cpu):
            raise self.fail(
                "resources.cpu", f'expected a string like "1", "1.5" or "500m", got {cpu!r}'
            )
        memory = values.get("memory", "2Gi")
        if not isinstance(memory, str) or not _MEMORY.match(memory):
            raise self.fail(
                "resources.memory",
                'expected a string like "512Mi" or "2Gi" '
                f"(units k, M, G, T, Ki, Mi, Gi, Ti), got {memory!r}",
            )
        node_count = values.get("node_count")
        if node_count is not None:
            self.whole("resources.node_count", node_count)
        return Resources(
            cpu=cpu,
            memory=memory,
            accelerator=self.accelerator(values.get("accelerator")),
            instance_type=self.optional_str(values, "instance_type", "resources."),
            node_count=node_count,
        )

    def whole(self, name: str, value: object) -> int:
        """`value` if it is a whole number in `CONFIG_RANGES[name]`; else the error."""
        low, high = CONFIG_RANGES[name]
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise self.fail(
                name, f"expected a whole number from {low} to {high}, got {shown(value)}"
            )
        return value

    def accelerator(self, value: object) -> str | None:
        if value is None:
            return None
        text = str(self.expect("resources.accelerator", value, str, 'a string like "A10G:2"'))
        kind, _, count = text.strip().partition(":")
        if kind not in ACCELERATORS:
            raise self.fail(
                "resources.accelerator",
                f"unsupported accelerator {kind!r}; expected one of {', '.join(ACCELERATORS)}",
            )
        low, high = CONFIG_RANGES["resources.accelerator"]
        if count and (not count.isdigit() or len(count) > 6 or not low <= int(count) <= high):
            raise self.fail(
                "resources.accelerator",
                f"count must be a whole number from {low} to {high}, got {count[:40]!r}",
            )
        return text.strip()

    def runtime(self, value: object) -> Runtime:
        if value is None:
            return Runtime()
        values = self.expect("runtime", value, dict, "a mapping")
        for key in values:
            if key not in _RUNTIME_KNOWN:
                self.notices.append(
                    Notice(
                        f"runtime.{key}",
                        f"{self.config_path}: unknown field 'runtime.{key}' is ignored",
                    )
                )
        if values.get("num_workers", 1) != 1:
            raise self.fail("runtime.num_workers", "only 1 worker per server is allowed")
        concurrency = values.get("predict_concurrency", 1)
        timeout = values.get("streaming_read_timeout", 60)
        for name, number in (
            ("runtime.predict_concurrency", concurrency),
            ("runtime.streaming_read_timeout", timeout),
        ):
            self.whole(name, number)
        debug = values.get("enable_debug_logs", False)
        self.expect("runtime.enable_debug_logs", debug, bool, "true or false")
        return Runtime(
            predict_concurrency=concurrency,
            streaming_read_timeout=timeout,
            enable_debug_logs=debug,
        )

    def first_byte_timeout(self, metadata: Mapping[str, Any]) -> float:
        """`model_metadata.brace.first_byte_timeout` (seconds), else the default."""
        section = metadata.get("brace")
        if section is None:
            return FIRST_BYTE_TIMEOUT
        values = self.expect("model_metadata.brace", section, dict, "a mapping")
        for key in values:
            if key != "first_byte_timeout":
                self.notices.append(
                    Notice(
                        f"model_metadata.brace.{key}",
                        f"{self.config_path}: unknown field 'model_metadata.brace.{key}' "
                        "is ignored",
                    )
                )
        value = values.get("first_byte_timeout", FIRST_BYTE_TIMEOUT)
        if (
            not isinstance(value, int | float)
            or isinstance(value, bool)
            or not 0 < value <= MAX_FIRST_BYTE_TIMEOUT
        ):
            raise self.fail(
                "model_metadata.brace.first_byte_timeout",
                f"expected seconds, a number > 0 and <= {MAX_FIRST_BYTE_TIMEOUT:g}, got {value!r}",
            )
        return float(value)


def _machine_notices(
    config: TrussConfig, raw: Mapping[str, Any], gpu_available: Callable[[], bool]
) -> list[Notice]:
    """What in the config cannot take effect on this machine, said plainly."""
    notices = []
    if config.system_packages:
        notices.append(
            Notice(
                "system_packages",
                f"system_packages ({', '.join(config.system_packages)}) are not installed "
                "by brace; install them on this machine if the model needs them",
            )
        )
    for key, reason in _NOT_APPLIED.items():
        if raw.get(key):
            notices.append(Notice(key, f"{key} is not applied: {reason}"))
    wanted = config.python_version
    running = f"py{sys.version_info.major}{sys.version_info.minor}"
    if "python_version" in raw and wanted != running:
        notices.append(
            Notice(
                "python_version",
                f"python_version is {wanted}, but brace runs the model on this machine's "
                f"Python {sys.version_info.major}.{sys.version_info.minor}",
            )
        )
    accelerator = config.resources.accelerator
    if accelerator and not gpu_available():
        notices.append(
            Notice(
                "resources.accelerator",
                f"resources.accelerator {accelerator} is requested, but this machine has "
                "no GPU; the model runs on the CPU",
            )
        )
    return notices


def _check_files(truss: Truss, checker: _Checker, check_model: bool) -> None:
    config = truss.config
    if config.requirements_file is not None:
        requirements = truss.path / config.requirements_file
        if not requirements.is_file():
            raise checker.fail("requirements_file", f"file not found: {requirements}")
    for directory in truss.external_package_paths():
        if not directory.is_dir():
            raise checker.fail("external_package_dirs", f"directory not found: {directory}")
    if not check_model:
        return
    model_file = truss.model_file
    if not model_file.is_file():
        raise ConfigError(
            f"{model_file}: model file not found",
            f"The model class lives in {config.model_module_dir}/{config.model_class_filename} "
            "(set model_module_dir and model_class_filename in config.yaml to change it).",
        )
    find_model_class(model_file, config.model_class_name)


def find_model_class(model_file: Path, class_name: str) -> None:
    """Check, without importing it, that `model_file` defines `class_name` at top level."""
    source = model_file.read_text()
    try:
        tree = ast.parse(source, filename=str(model_file))
    except SyntaxError as exc:
        raise ConfigError(f"{model_file} line {exc.lineno}: {exc.msg}") from None
    names = {node.name for node in tree.body if isinstance(node, ast.ClassDef)}
    names |= {
        target.id
        for node in tree.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    names |= {
        alias.asname or alias.name.split(".")[0]
        for node in tree.body
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for alias in node.names
    }
    if class_name not in names:
        raise ConfigError(
            f"{model_file}: class {class_name!r} not found",
            "Define it at the top level of the file, or set model_class_name in config.yaml.",
        )
