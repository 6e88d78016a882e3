"""Where a Truss's code, packages and data are, for a live directory or a snapshot.

A development deployment runs from the user's own directory, where
`external_package_dirs` are paths relative to it. A published deployment runs from a
snapshot (brace/services/snapshots.py), where those directories were copied in as
`__external__/<n>` and `brace-snapshot.json` maps each configured name to its copy.
`ModelLayout` hides the difference from the loader.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from brace import config as truss_config
from brace.config import Truss, load_truss

# The runtime stands on its own (importing brace.services would pull in the store), so
# the manifest's name is repeated here; tests check it matches snapshots.MANIFEST.
SNAPSHOT_MANIFEST = "brace-snapshot.json"


@dataclass(frozen=True)
class ModelLayout:
    root: Path
    model_file: Path
    data_dir: Path
    package_dirs: tuple[Path, ...]  # import roots: packages/ then external dirs, in order

    @property
    def user_roots(self) -> tuple[str, ...]:
        """Where the user's own code lives, for cutting tracebacks."""
        return tuple(str(path) for path in (self.root, *self.package_dirs))


def is_snapshot(directory: Path) -> bool:
    return (directory / SNAPSHOT_MANIFEST).is_file()


def read_truss(directory: Path | str) -> Truss:
    """Load the Truss in `directory`, live or snapshot (ConfigError if invalid)."""
    path = Path(directory).resolve()
    if not is_snapshot(path):
        return load_truss(path, check_model=False)
    # load_truss checks that external_package_dirs exist relative to the directory,
    # which is false in a snapshot (they moved to __external__/<n>). Run the same
    # validation without that one check. TODO: a snapshot-aware option in brace.config.
    config_path = path / truss_config.CONFIG_FILE
    checker = truss_config._Checker(config_path)
    parsed = checker.config(truss_config._read_yaml(config_path))
    return Truss(path=path, config=parsed, notices=tuple(checker.notices))


def _external_dirs(truss: Truss) -> tuple[Path, ...]:
    names = truss.config.external_package_dirs
    if not is_snapshot(truss.path):
        return tuple((truss.path / name).resolve() for name in names)
    manifest = json.loads((truss.path / SNAPSHOT_MANIFEST).read_text())
    mapping: dict[str, str] = manifest.get("external_package_dirs", {})
    return tuple((truss.path / mapping.get(name, name)).resolve() for name in names)


def layout_of(truss: Truss) -> ModelLayout:
    config = truss.config
    packages = truss.path / config.bundled_packages_dir
    package_dirs = ((packages,) if packages.is_dir() else ()) + _external_dirs(truss)
    return ModelLayout(
        root=truss.path,
        model_file=truss.model_file,
        data_dir=truss.path / config.data_dir,
        package_dirs=package_dirs,
    )
