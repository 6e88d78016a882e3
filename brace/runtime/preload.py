"""What a model imports at the top of its files, and importing it before a fork.

A model's cold start is mostly its imports (numpy, pandas, torch), not brace's. The
server keeps a fork server per model environment that has already imported them
(brace/server/backends/forkservers.py), so that a replica forked from it starts where the
model's own imports would have ended. Two halves live here:

- `model_imports(truss)`, on the server's side: the modules the model's files import
  at top level, read from the source with `ast` (no code is run). Only the module
  body's own `import X` and `from X import Y` statements count, not those inside a
  function, a class, `if` or `try` (an optional import must not turn into a failed
  preload); relative imports and `__future__` never count. A module whose top-level
  name is the model's own (the package `model`, a module or package in the model
  directory, in `packages/` or an external package directory) is never preloaded: the
  fork server runs no code of the model's, only third-party and standard modules.
  Standard-library modules are left out too: they cost little and would start a fork
  server for nothing.
- `preload(modules)`, in the fork server: import them one at a time and check after
  each that the process still has a single thread. Forking a process with other
  threads leaves the child with their locks held and without the threads; so an
  import that starts one (a BLAS or OpenMP pool) makes the preload refused
  (`PreloadRefused`), as does an import that fails. To keep the common pools from
  starting, the fork server sets `THREAD_LIMITS` (one thread each) before importing,
  unless the environment sets any of them (then the model asked for its pools as it
  wants them, and the check decides). The check counts the threads the kernel
  knows (`/proc/self/task`: native threads too), and Python's (`threading`).
"""

from __future__ import annotations

import ast
import importlib
import os
import sys
import threading
from collections.abc import Iterable, Iterator, MutableMapping
from pathlib import Path

from brace.config import CONFIG_FILE
from brace.errors import BraceError
from brace.runtime.layout import MODEL_PACKAGE, ModelLayout, layout_of, read_truss

FILE_LIMIT = 200
"""Model files read for imports, at most (the first in sorted order)."""
SIZE_LIMIT = 1 << 20
"""A model file larger than this many bytes is not read for imports."""

THREAD_LIMITS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)
"""The variables that size the thread pools numeric libraries start when imported
(OpenMP, OpenBLAS, MKL, BLIS, Accelerate, numexpr); set to 1 in a fork server that
preloads, as the replicas it forks then inherit the pools as they were imported."""

SKIPPED = frozenset({*sys.stdlib_module_names, "__future__", "brace"})


class PreloadRefused(BraceError):
    """A preload import failed or started a thread: the fork server must not fork."""


def top_level_imports(source: str) -> list[str]:
    """The absolute modules a file's module body imports (`import a.b` -> "a.b",
    `from a.b import c` -> "a.b"), in order; [] for a file that does not parse."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return []
    names: list[str] = []
    for statement in tree.body:
        if isinstance(statement, ast.Import):
            names.extend(alias.name for alias in statement.names)
        elif isinstance(statement, ast.ImportFrom) and statement.level == 0 and statement.module:
            names.append(statement.module)
    return names


def model_imports(truss_dir: Path) -> tuple[str, ...]:
    """The third-party modules the model in `truss_dir` imports at the top of its files
    (sorted, without duplicates); () when it has none or its config does not read."""
    try:
        layout = layout_of(read_truss(truss_dir))
    except (BraceError, OSError):
        return ()
    return _imports(layout)


class CachedImports:
    """`model_imports`, read again only when the model directory's config.yaml, its
    model file, or its model or package directories (their entries) changed: a
    published deployment's snapshot never does, so a server reads each once."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        """Model directories remembered, at most (all are forgotten past it)."""
        self._cache: dict[Path, tuple[ModelLayout, Signature, tuple[str, ...]]] = {}

    def __call__(self, truss_dir: Path) -> tuple[str, ...]:
        cached = self._cache.get(truss_dir)
        if cached is not None and _signature(truss_dir, cached[0]) == cached[1]:
            return cached[2]
        try:
            layout = layout_of(read_truss(truss_dir))
        except (BraceError, OSError):
            return ()
        signature = _signature(truss_dir, layout)
        imports = _imports(layout)
        if len(self._cache) >= self.size:
            self._cache.clear()
        self._cache[truss_dir] = (layout, signature, imports)
        return imports


Signature = tuple[tuple[int, int, int] | None, ...]


def _signature(truss_dir: Path, layout: ModelLayout) -> Signature:
    """What changes when the imports may have: the stats of config.yaml, the model
    file and the model and package directories `layout` names."""
    paths = (truss_dir / CONFIG_FILE, layout.model_file, layout.model_dir, *layout.package_dirs)
    stats: list[tuple[int, int, int] | None] = []
    for path in paths:
        try:
            stat = path.stat()
        except OSError:
            stats.append(None)
        else:
            stats.append((stat.st_mtime_ns, stat.st_size, stat.st_ino))
    return tuple(stats)


def _imports(layout: ModelLayout) -> tuple[str, ...]:
    own = _own_names(layout.model_dir, layout.package_dirs)
    found: set[str] = set()
    for path in _model_files(layout.model_dir):
        try:
            if path.stat().st_size > SIZE_LIMIT:
                continue
            source = path.read_text(errors="replace")
        except OSError:
            continue
        for name in top_level_imports(source):
            top = name.partition(".")[0]
            if top not in SKIPPED and top not in own:
                found.add(name)
    return tuple(sorted(found))


def _model_files(model_dir: Path) -> Iterator[Path]:
    try:
        files = sorted(model_dir.rglob("*.py"))
    except OSError:
        return
    yield from files[:FILE_LIMIT]


def _own_names(model_dir: Path, package_dirs: Iterable[Path]) -> set[str]:
    """Top-level module names the model's own import roots provide."""
    names = {MODEL_PACKAGE}
    for root in (model_dir, *package_dirs):
        try:
            entries = list(root.iterdir())
        except OSError:
            continue
        for entry in entries:
            if entry.suffix in (".py", ".pyc", ".so", ".pyd") or entry.is_dir():
                names.add(entry.name.partition(".")[0])
    return names


def limit_threads(environ: MutableMapping[str, str]) -> None:
    """Set each of `THREAD_LIMITS` to 1, unless `environ` sets any of them (OpenBLAS
    reads OPENBLAS_NUM_THREADS before OMP_NUM_THREADS: setting one the model left out
    would override the one it set)."""
    if not any(name in environ for name in THREAD_LIMITS):
        environ.update(dict.fromkeys(THREAD_LIMITS, "1"))


def thread_count() -> int:
    """The threads of this process: the kernel's count, or Python's if larger."""
    try:
        native = len(os.listdir("/proc/self/task"))
    except OSError:
        native = 1
    return max(native, threading.active_count())


def preload(modules: Iterable[str]) -> None:
    """Import `modules` in order; PreloadRefused naming the module if one fails or
    leaves the process with more than one thread."""
    for name in modules:
        try:
            importlib.import_module(name)
        except BaseException as error:  # any failure refuses the preload
            raise PreloadRefused(
                f"importing {name} failed: {type(error).__name__}: {error}",
                "The model's replicas import it themselves.",
            ) from None
        threads = thread_count()
        if threads > 1:
            raise PreloadRefused(
                f"importing {name} started {threads - 1} thread(s); forking would lose them",
                "Set its thread pool to 1 (e.g. OMP_NUM_THREADS=1) or let replicas import it.",
            )
