"""config.yaml's fields, one at a time, into a `TrussConfig`.

`FieldChecker` refuses a value with the file, the field and what is allowed; a key it
does not know, or one Truss has but brace ignores, becomes a `Notice`. Numeric ranges
come from `brace.ranges` (the one table the CLI's help also reads).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from brace.config.reading import described
from brace.config.records import (
    FIRST_BYTE_TIMEOUT,
    MAX_FIRST_BYTE_TIMEOUT,
    Notice,
    Resources,
    Runtime,
    TrussConfig,
)
from brace.errors import ConfigError
from brace.ranges import CONFIG_RANGES, shown

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


class FieldChecker:
    """Turns the parsed YAML into a TrussConfig, one field at a time."""

    def __init__(self, config_path: Path) -> None:
        self.config_path = config_path
        self.notices: list[Notice] = []

    def fail(self, name: str, message: str) -> ConfigError:
        return ConfigError(f"{self.config_path}: field '{name}': {message}")

    def expect(self, name: str, value: object, kind: type | tuple[type, ...], what: str) -> Any:
        if isinstance(value, bool) and kind in (int, (int, float)):
            raise self.fail(name, f"expected {what}, got {described(value)}")
        if not isinstance(value, kind):
            raise self.fail(name, f"expected {what}, got {described(value)}")
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
                raise self.fail(name, f"expected a list of strings, found {described(item)}")
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
                    f"expected a string, number or boolean, got {described(value)}",
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
