"""`brace init`: write a new Truss-format model directory that serves as it is."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from brace.config import PYTHON_VERSIONS
from brace.errors import RefusedError

CONFIG = """\
model_name: {name}
description: A new model. Edit model/model.py, then `brace push` or `brace watch`.
python_version: {python_version}
requirements: []
environment_variables: {{}}
secrets: {{}}
resources:
  cpu: "1"
  memory: 2Gi
  use_gpu: false
runtime:
  predict_concurrency: 1
"""

MODEL = '''\
"""The model: brace (like Truss) creates Model, calls load() once, then predict()."""

from typing import Any


class Model:
    def __init__(self, **kwargs: Any) -> None:
        # kwargs holds config (config.yaml), data_dir and secrets.
        self._config = kwargs.get("config")
        self._ready = False

    def load(self) -> None:
        # Load weights here; requests wait until load() returns.
        self._ready = True

    def predict(self, model_input: Any) -> Any:
        return {"echo": model_input}
'''


def running_python_version() -> str:
    """This interpreter as a Truss python_version (py311), or the newest Truss knows."""
    version = f"py{sys.version_info.major}{sys.version_info.minor}"
    return version if version in PYTHON_VERSIONS else PYTHON_VERSIONS[-1]


def default_model_name(directory: Path) -> str:
    return re.sub(r"[^A-Za-z0-9._ -]", "-", directory.resolve().name) or "model"


def scaffold(directory: Path, model_name: str | None = None) -> Path:
    """Write config.yaml, model/model.py, data/ and packages/ into `directory`."""
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise RefusedError(
            f"{directory} already exists and is not empty",
            "Choose a new directory name; brace init never overwrites files.",
        )
    name = model_name or default_model_name(directory)
    (directory / "model").mkdir(parents=True, exist_ok=True)
    (directory / "data").mkdir()
    (directory / "packages").mkdir()
    # A JSON string is a valid double-quoted YAML scalar: names like "v2: int8" stay names.
    config = CONFIG.format(name=json.dumps(name), python_version=running_python_version())
    (directory / "config.yaml").write_text(config)
    (directory / "model" / "__init__.py").write_text("")
    (directory / "model" / "model.py").write_text(MODEL)
    return directory.resolve()
