"""The records a loaded Truss is made of: `Truss`, its `TrussConfig` and `Notice`s.

Frozen: `fields` builds them from config.yaml, `loading` checks the files they name.
The defaults are Truss's own. `Truss` reads its requirements file when asked.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from brace.config.reading import read_text

CONFIG_FILE = "config.yaml"
# In a published deployment's snapshot (brace/services/snapshots.py), external package
# directories are copied in, and this file maps each configured name to its copy.
SNAPSHOT_MANIFEST = "brace-snapshot.json"

FIRST_BYTE_TIMEOUT = 1200.0
"""Default `model_metadata.brace.first_byte_timeout` (seconds): Baseten's timeout of a
sync predict."""

MAX_FIRST_BYTE_TIMEOUT = 86400.0
"""The largest `model_metadata.brace.first_byte_timeout` accepted (a day): NaN, infinity and values
that would overflow a timer are refused."""


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
        text = read_text(self.path / self.config.requirements_file, missing_ok=True)
        # pip: '#' starts a comment at the start of a line or after white space only
        # (a URL's '#sha256=...' fragment is not a comment).
        lines = (re.sub(r"(^|\s)#.*$", "", line).strip() for line in text.splitlines())
        return tuple(line for line in lines if line)
