"""`load_truss`: a Truss-format model directory read, checked and reported on.

It reads config.yaml (`reading`), checks its fields (`fields`), says what cannot take
effect on this machine, and checks the files the config names, down to the model
class, which is found by parsing the model file, never by importing it.
"""

from __future__ import annotations

import ast
import shutil
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from brace.config.fields import FieldChecker
from brace.config.reading import read_yaml
from brace.config.records import CONFIG_FILE, Notice, Truss, TrussConfig
from brace.errors import ConfigError

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
    raw = read_yaml(config_path)
    checker = FieldChecker(config_path)
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
        name = read_yaml(config_path).get("model_name")
    except ConfigError:
        return None
    return name.strip() or None if isinstance(name, str) else None


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


def _check_files(truss: Truss, checker: FieldChecker, check_model: bool) -> None:
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
