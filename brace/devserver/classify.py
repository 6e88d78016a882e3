"""What a saved change means for the running development deployment (pure functions).

Two decisions, both plain data in and out, so they are table-tested:

- `classify` sorts one changed path: model code and packages (reloaded in the replica),
  `data/` (reloaded as a new instance: `load()` runs again), `config.yaml`, the
  requirements file, or something the model does not use (editor temp files, caches).
- `diff_config` compares two configs field by field and says what each change needs:
  a new replica (environment variables, secrets, runtime, resources, where the code
  lives), a new Python environment and then a new replica (requirements), nothing to
  apply but worth saying (name, description, metadata), or nothing brace can apply on
  this machine (system packages, base images, ...), which is reported, never hidden.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from brace.config import Truss, TrussConfig


class ChangeKind(Enum):
    CODE = "code"  # reload the user's modules in the running replica
    DATA = "data"  # reload with a new instance, so load() reads the data again
    CONFIG = "config"  # config.yaml: diff it against the running config
    REQUIREMENTS = "requirements"  # the requirements file's content
    IGNORED = "ignored"  # editor temp files, caches, files the model does not use


class Effect(Enum):
    REPLACE = "replace"  # a new replica process (the controller swaps it in)
    REBUILD = "rebuild"  # a new Python environment, then a new replica
    INFO = "info"  # nothing to apply; say what changed
    NOT_APPLIED = "not-applied"  # brace cannot apply it here; say so


# Directories whose content never matters to a running model.
IGNORED_DIRS = frozenset(
    {
        "__pycache__",
        ".git",
        ".hg",
        ".svn",
        ".venv",
        "venv",
        "node_modules",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".tox",
        ".idea",
        ".vscode",
        ".hypothesis",
    }
)
# Files editors and tools write next to the real one while saving.
_IGNORED_NAMES = re.compile(
    r"""(
        .*\.py[cod]                 # bytecode
      | .*\.sw.                    # vim swap files (.swp, .swo, .swx, ...)
      | 4913                        # vim's "can I write here" probe
      | .*~                         # backups (vim, emacs, gedit)
      | \.\#.*                      # emacs lock files
      | \#.*\#                      # emacs auto-save files
      | .*___jb_(old|tmp|bak)___    # JetBrains safe-write
      | .*\.kate-swp                # Kate
      | .*\.crswap                  # VS Code / Chrome File System Access
      | \.goutputstream-.*          # GNOME (gedit)
      | flycheck_.*                 # Emacs flycheck
      | sed[A-Za-z0-9]{6}           # `sed -i`'s temporary file
      | .*\.tmp | .*\.temp          # generic temporary files
      | \.DS_Store
    )""",
    re.VERBOSE,
)

# What a change to each config.yaml field needs. Requirements are compared by content
# (`requirements` or the requirements file's lines), not by field.
_REPLACE_FIELDS = frozenset(
    {
        "environment_variables",
        "secrets",
        "runtime",
        "resources",
        # Where the model's code and data live: a new replica reads them from scratch.
        "model_module_dir",
        "model_class_filename",
        "model_class_name",
        "bundled_packages_dir",
        "external_package_dirs",
        "data_dir",
    }
)
_INFO_FIELDS = frozenset({"model_name", "description", "model_metadata"})
_REQUIREMENT_FIELDS = frozenset({"requirements", "requirements_file"})


def ignored(path: str | Path) -> bool:
    """An editor's temporary file, bytecode, or anything under a cache or VCS directory."""
    parts = Path(path).parts
    if any(part in IGNORED_DIRS for part in parts[:-1]):
        return True
    return not parts or parts[-1] in IGNORED_DIRS or bool(_IGNORED_NAMES.fullmatch(parts[-1]))


@dataclass(frozen=True)
class Layout:
    """Where a live Truss directory keeps what `classify` tells apart (absolute paths)."""

    root: Path
    config_file: Path
    requirements_file: Path | None
    code_dirs: tuple[Path, ...]  # the model module dir, packages/, external package dirs
    data_dir: Path

    @classmethod
    def of(cls, truss: Truss) -> Layout:
        config = truss.config
        root = truss.path
        requirements = config.requirements_file
        return cls(
            root=root,
            config_file=truss.config_file,
            requirements_file=_absolute(root / requirements) if requirements else None,
            code_dirs=(
                _absolute(root / config.model_module_dir),
                _absolute(root / config.bundled_packages_dir),
                *(_absolute(path) for path in truss.external_package_paths()),
            ),
            data_dir=_absolute(root / config.data_dir),
        )

    @property
    def watch_roots(self) -> tuple[Path, ...]:
        """The Truss directory, plus external package dirs that live outside it."""
        outside = [d for d in self.code_dirs if not _within(d, self.root)]
        return (self.root, *dict.fromkeys(outside))

    def display(self, path: str | Path) -> str:
        """`path` as the user thinks of it: relative to the Truss directory."""
        return os.path.relpath(path, self.root)


def _absolute(path: Path) -> Path:
    return Path(os.path.abspath(path))


def _within(path: Path, directory: Path) -> bool:
    return path == directory or directory in path.parents


def classify(path: str | Path, layout: Layout) -> ChangeKind:
    """What a change to `path` (absolute) means for the running model."""
    where = _absolute(Path(path))
    if ignored(os.path.relpath(where, layout.root)):
        return ChangeKind.IGNORED
    if where == layout.config_file:
        return ChangeKind.CONFIG
    if where == layout.requirements_file:
        return ChangeKind.REQUIREMENTS
    if _within(where, layout.data_dir):
        return ChangeKind.DATA
    if any(_within(where, directory) for directory in layout.code_dirs):
        return ChangeKind.CODE
    if where.suffix == ".py" and _within(where, layout.root):
        return ChangeKind.CODE
    return ChangeKind.IGNORED


@dataclass(frozen=True)
class Batch:
    """One debounced set of changes, sorted by what they need (display paths, sorted)."""

    code: tuple[str, ...] = ()
    data: tuple[str, ...] = ()
    config: tuple[str, ...] = ()  # config.yaml and the requirements file

    @property
    def reload(self) -> tuple[str, ...]:
        return self.code + self.data

    @property
    def paths(self) -> tuple[str, ...]:
        return self.config + self.code + self.data

    def __bool__(self) -> bool:
        return bool(self.paths)


def sort_changes(paths: Iterable[str | Path], layout: Layout) -> Batch:
    found: dict[ChangeKind, set[str]] = {kind: set() for kind in ChangeKind}
    for path in paths:
        found[classify(path, layout)].add(layout.display(path))
    return Batch(
        code=tuple(sorted(found[ChangeKind.CODE])),
        data=tuple(sorted(found[ChangeKind.DATA])),
        config=tuple(sorted(found[ChangeKind.CONFIG] | found[ChangeKind.REQUIREMENTS])),
    )


def field_effect(name: str) -> Effect:
    if name in _REPLACE_FIELDS:
        return Effect.REPLACE
    if name in _REQUIREMENT_FIELDS:
        return Effect.REBUILD
    if name in _INFO_FIELDS:
        return Effect.INFO
    return Effect.NOT_APPLIED


@dataclass(frozen=True)
class ConfigSnapshot:
    """What `diff_config` compares: the parsed config and the requirements it resolves to."""

    config: TrussConfig
    requirements: tuple[str, ...]
    notices: tuple[tuple[str, str], ...] = ()  # (field, message) from load_truss

    @classmethod
    def of(cls, truss: Truss) -> ConfigSnapshot:
        notices = tuple((n.field, n.message) for n in truss.notices)
        return cls(truss.config, truss.requirements(), notices)


@dataclass(frozen=True)
class ConfigDiff:
    """The changed top-level fields of config.yaml, grouped by what they need."""

    replace: tuple[str, ...] = ()
    rebuild: bool = False
    info: tuple[str, ...] = ()
    not_applied: tuple[str, ...] = ()

    @property
    def needs_replica(self) -> bool:
        """A new replica must start for the change to take effect."""
        return bool(self.replace) or self.rebuild

    @property
    def replica_fields(self) -> tuple[str, ...]:
        """The changed fields that need a new replica."""
        return (*self.replace, *(("requirements",) if self.rebuild else ()))

    @property
    def fields(self) -> tuple[str, ...]:
        return (*self.replica_fields, *self.info, *self.not_applied)

    def __bool__(self) -> bool:
        return bool(self.fields)


def _value(config: TrussConfig, name: str) -> Any:
    """A field as brace understood it (so `A: 1` and `A: "1"` compare equal), or raw."""
    if name in TrussConfig.__dataclass_fields__ and name != "raw":
        return getattr(config, name)
    return config.raw.get(name)


def changed_fields(old: TrussConfig, new: TrussConfig) -> tuple[str, ...]:
    names = (set(old.raw) | set(new.raw)) - _REQUIREMENT_FIELDS
    return tuple(sorted(n for n in names if _value(old, n) != _value(new, n)))


def diff_config(old: ConfigSnapshot, new: ConfigSnapshot) -> ConfigDiff:
    by_effect: dict[Effect, list[str]] = {effect: [] for effect in Effect}
    for name in changed_fields(old.config, new.config):
        by_effect[field_effect(name)].append(name)
    return ConfigDiff(
        replace=tuple(by_effect[Effect.REPLACE]),
        rebuild=old.requirements != new.requirements,
        info=tuple(by_effect[Effect.INFO]),
        not_applied=tuple(by_effect[Effect.NOT_APPLIED]),
    )


@dataclass(frozen=True)
class Remark:
    """Something to tell the user about a config change that is not applied as such."""

    fields: tuple[str, ...]
    message: str
    applied: bool  # False: brace cannot apply it here; True: there was nothing to apply


def remarks(
    diff: ConfigDiff,
    notices: Iterable[tuple[str, str]],
    new: TrussConfig,
    kept_model: str,
) -> tuple[Remark, ...]:
    """What to say about a config change besides applying it.

    `notices` are the new config's (field, message) notices; those about changed fields
    are repeated (a newly added system package, an accelerator without a GPU). A changed
    field brace cannot apply and has no notice for still gets a line: nothing is hidden.
    """
    changed = diff.fields
    said: list[Remark] = []
    explained: set[str] = set()
    for field, message in notices:
        owner = next((n for n in changed if field == n or field.startswith(n + ".")), None)
        if owner is not None:
            said.append(Remark((owner,), message, applied=False))
            explained.add(owner)
    for name in diff.not_applied:
        if name not in explained:
            said.append(
                Remark(
                    (name,),
                    f"{name} changed; brace cannot apply it on this machine, so it has no "
                    "effect here",
                    applied=False,
                )
            )
    if "model_name" in diff.info:
        said.append(
            Remark(
                ("model_name",),
                f"model_name changed to {new.model_name!r}; this watch keeps serving model "
                f"{kept_model!r} (restart `brace watch` to push the new name)",
                applied=True,
            )
        )
    others = tuple(n for n in diff.info if n != "model_name")
    if others:
        said.append(Remark(others, f"{', '.join(others)} changed; nothing to apply", True))
    return tuple(said)


def replacement_reason(pending: ConfigDiff) -> str:
    """Why a new replica starts: the config fields it applies, or a failed last start."""
    if pending.rebuild:
        return (
            f"{', '.join(pending.replica_fields)} changed: building the Python environment, "
            "then starting a new replica"
        )
    if pending.replace:
        return f"{', '.join(pending.replace)} changed: starting a new replica"
    return "the last start failed: starting a new replica"
