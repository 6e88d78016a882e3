"""Where a Truss's code, packages and data are, for a live directory or a snapshot.

A development deployment runs from the user's own directory, where
`external_package_dirs` are paths relative to it. A published deployment runs from a
snapshot (brace/services/snapshots.py), where those directories were copied in as
`__external__/<n>` and `brace-snapshot.json` maps each configured name to its copy.
`ModelLayout` hides the difference from the loader.

Names, as in Truss's server image (where the model directory is always copied to
`/app/model` and `/app` is on sys.path): the model directory is the package `model`,
so `from model.util import helper` finds `model/util.py`; a model file called
`model.py` is the module `model.model`, any other file `<stem>` on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from brace.config import SNAPSHOT_MANIFEST, Truss, load_truss

__all__ = ["MODEL_PACKAGE", "SNAPSHOT_MANIFEST", "ModelLayout", "layout_of", "read_truss"]

MODEL_PACKAGE = "model"  # what the model directory is importable as


@dataclass(frozen=True)
class ModelLayout:
    root: Path
    model_file: Path
    data_dir: Path
    package_dirs: tuple[Path, ...]  # import roots: packages/ then external dirs, in order

    @property
    def model_dir(self) -> Path:
        return self.model_file.parent

    @property
    def module_name(self) -> str:
        """The model file's name in sys.modules (Truss's rule: `model.model`)."""
        stem = self.model_file.stem
        return f"{MODEL_PACKAGE}.{stem}" if stem == MODEL_PACKAGE else stem

    @property
    def user_roots(self) -> tuple[str, ...]:
        """Where the user's own code lives, for cutting tracebacks."""
        return tuple(str(path) for path in (self.root, *self.package_dirs))


def read_truss(directory: Path | str) -> Truss:
    """Load the Truss in `directory`, live or snapshot (ConfigError if invalid)."""
    return load_truss(directory, check_model=False)


def layout_of(truss: Truss) -> ModelLayout:
    config = truss.config
    packages = truss.path / config.bundled_packages_dir
    package_dirs = ((packages,) if packages.is_dir() else ()) + truss.external_package_paths()
    return ModelLayout(
        root=truss.path,
        model_file=truss.model_file,
        data_dir=truss.path / config.data_dir,
        package_dirs=package_dirs,
    )
