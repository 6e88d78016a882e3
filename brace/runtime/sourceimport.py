"""Import the user's code from its source text, never from bytecode.

Python trusts a `.pyc` when the source's whole-second mtime and size match, so an edit
that keeps the size and lands in the same second is silently ignored (FIELD-NOTES:
the old code loaded 20 times out of 20). For a replica that is only a stale-code risk;
for live reload it is a wrong answer. So the model file, and every module found under
the user's package directories and the model directory (the package `model`), is
compiled from the text on disk, and no bytecode is written. Libraries outside those
directories import normally, with their caches.

The text compiled is also what tracebacks show: `linecache` would read the file as it
is on disk when the error is formatted, and `brace watch` printed the new line under
an error the old code raised. Each compile puts its text in `linecache` with no
modification time, which `linecache.checkcache` leaves alone, until the next compile
of that file replaces it.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import linecache
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import CodeType, ModuleType

from brace.files import read_limited


class SourceOnlyLoader(importlib.machinery.SourceFileLoader):
    """A source loader that neither reads nor writes `__pycache__`.

    Given `source`, it compiles those bytes instead of re-reading the file, so the
    caller knows exactly which text it ran (the file may change while it loads).
    """

    def __init__(self, fullname: str, path: str, source: bytes | None = None) -> None:
        super().__init__(fullname, path)
        self._source = source

    def get_data(self, path: str) -> bytes:
        # A FIFO or a device posing as a module must fail the import, not hang it.
        return read_limited(path, None)

    def get_code(self, fullname: str) -> CodeType:
        path = self.get_filename(fullname)
        source = self._source if self._source is not None else self.get_data(path)
        code = self.source_to_code(source, path)
        remember_source(path, source)
        return code


def remember_source(path: str, source: bytes) -> None:
    """Make tracebacks through `path` show the lines of `source`, the text that was
    compiled, whatever the file holds now (see the module docstring)."""
    text = importlib.util.decode_source(source)
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    linecache.cache[path] = (len(text), None, lines, path)


def _inside(path: str, roots: Sequence[str]) -> bool:
    path = os.path.abspath(path)
    return any(path == root or path.startswith(root + os.sep) for root in roots)


class SourceOnlyFinder:
    """Finds modules in the user's directories and loads them from source.

    (A meta path finder only needs `find_spec`; importlib.abc costs ~4 ms to import.)

    Top-level names are looked up in `roots` first (the user's `utils` wins over an
    installed one, as with a PYTHONPATH entry). Each of `packages` maps a top-level
    package name to a directory (the model directory is the package `model`, as in
    Truss's image). Submodules are found here only when their parent package lives in
    one of those directories. Everything else falls through to the normal finders.
    """

    def __init__(self, roots: Sequence[Path], packages: Mapping[str, Path] | None = None) -> None:
        self.roots = tuple(os.path.abspath(root) for root in roots)
        self.packages = {name: os.path.abspath(path) for name, path in (packages or {}).items()}
        self._inner = (*self.roots, *self.packages.values())

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if path is None and fullname in self.packages:
            return package_spec(fullname, self.packages[fullname])
        search = list(self.roots) if path is None else [p for p in path if _inside(p, self._inner)]
        if not search:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, search)
        if spec is None or spec.origin is None:
            # Not here, or a namespace package: its portions may span other sys.path
            # entries, so let the normal finder assemble it.
            return None
        if isinstance(spec.loader, importlib.machinery.SourceFileLoader):
            spec.loader = SourceOnlyLoader(fullname, spec.origin)
        return spec


def package_spec(name: str, directory: str) -> importlib.machinery.ModuleSpec:
    """`directory` as the package `name`: its `__init__.py` if it has one (from source),
    else an empty package (like a namespace package, but with only this directory)."""
    init = os.path.join(directory, "__init__.py")
    if os.path.isfile(init):
        spec = importlib.util.spec_from_file_location(
            name, init, loader=SourceOnlyLoader(name, init), submodule_search_locations=[directory]
        )
        assert spec is not None  # a loader was given, so a spec is always made
        return spec
    spec = importlib.machinery.ModuleSpec(name, None, is_package=True)
    spec.submodule_search_locations = [directory]
    return spec


def install(roots: Sequence[Path], packages: Mapping[str, Path] | None = None) -> None:
    """Make `roots` and `packages` importable (from source) in this process, ahead of
    installed packages."""
    sys.dont_write_bytecode = True
    if not roots and not packages:
        return
    for root in reversed(roots):
        if str(root) not in sys.path:
            sys.path.insert(0, str(root))
    # Before the standard PathFinder, after the builtin and frozen importers.
    position = next(
        (i for i, f in enumerate(sys.meta_path) if f is importlib.machinery.PathFinder),
        len(sys.meta_path),
    )
    sys.meta_path.insert(position, SourceOnlyFinder(roots, packages))


def import_file(path: Path, name: str, source: bytes | None = None) -> ModuleType:
    """Execute `source` (default: the text of `path`) as a fresh module called `name`.

    The module is registered in sys.modules (pickle, dataclasses and pydantic look
    classes up there) but the previous entry is restored if execution fails, so a
    failed load leaves the process as it was.
    """
    loader = SourceOnlyLoader(name, str(path), source)
    spec = importlib.util.spec_from_file_location(name, path, loader=loader)
    assert spec is not None  # a loader was given, so a spec is always made
    module = importlib.util.module_from_spec(spec)
    previous = sys.modules.get(name)
    sys.modules[name] = module
    try:
        loader.exec_module(module)
    except BaseException:
        if previous is None:
            sys.modules.pop(name, None)
        else:
            sys.modules[name] = previous
        raise
    return module
