"""The user's own code inside the replica process: its source files and its modules.

Live reload (reload.py) needs two facts about the user's code. Whether it changed:
`fingerprint` hashes the text of every `.py` file under the model directory and the
package directories (content, never mtime: an edit that keeps the size and lands in the
same second must count). And which imported modules to forget so that the next import
runs the new text: `evict` drops every module whose file lives under those directories
(the same test tracebacks.py uses for "the user's frame", so installed libraries and
brace itself are never touched), and `restore` puts them back when the new code fails,
so the model that keeps serving also keeps finding its own modules in sys.modules.
"""

from __future__ import annotations

import hashlib
import linecache
import os
import sys
from collections.abc import Iterator, Sequence
from types import ModuleType
from typing import TypeAlias

from brace.files import hash_file, open_regular
from brace.runtime.layout import MODEL_PACKAGE, ModelLayout
from brace.runtime.tracebacks import BRACE_PACKAGE, is_user_file

# (path, sha256 of its bytes) for each source file, sorted by path; equal when unchanged.
Sources: TypeAlias = tuple[tuple[str, str], ...]

_SKIPPED_DIRS = frozenset({"__pycache__", "site-packages", "dist-packages", "node_modules"})


def _source_files(root: str) -> Iterator[str]:
    for directory, subdirectories, files in os.walk(root):
        subdirectories[:] = [
            name for name in subdirectories if name not in _SKIPPED_DIRS and name[0] != "."
        ]
        for name in files:
            if name.endswith(".py"):
                yield os.path.join(directory, name)


def _sha256(path: str) -> str | None:
    """The file's hash, read a chunk at a time; None unless it is a regular file (a
    `.py` FIFO must not hang the reload, nor a link to /dev/zero fill memory)."""
    digest = hashlib.sha256()
    try:
        fd = open_regular(path)
        try:
            hash_file(fd, digest)
        finally:
            os.close(fd)
    except OSError:  # deleted or replaced while we walked, or not a file: as good as absent
        return None
    return digest.hexdigest()


def _file_of(module: object) -> str | None:
    try:
        file = vars(module).get("__file__")
    except TypeError:  # not a module at all (sys.modules accepts anything)
        return None
    return file if isinstance(file, str) else None


class UserCode:
    def __init__(self, roots: Sequence[str], model_modules: Sequence[str]) -> None:
        # Absolute and normalized: the model directory, then the package directories.
        self.roots = tuple(dict.fromkeys(os.path.abspath(root) for root in roots))
        # The model file's name in sys.modules ("model.model") and the package the model
        # directory is ("model"): always the user's, whatever their files say.
        self.model_modules = frozenset(model_modules)
        self._prefixes = tuple(root.rstrip(os.sep) + os.sep for root in self.roots)
        self._verdicts: dict[str, bool] = {}  # by path: a path's answer never changes

    @classmethod
    def of(cls, layout: ModelLayout) -> UserCode:
        roots = (layout.model_dir, *layout.package_dirs)
        return cls([str(root) for root in roots], (layout.module_name, MODEL_PACKAGE))

    def contains(self, path: str) -> bool:
        """Whether `path` is one of the user's files (asked for every loaded module on
        every reload, hence the memo)."""
        verdict = self._verdicts.get(path)
        if verdict is None:
            normalized = os.path.normpath(path) if os.path.isabs(path) else ""
            verdict = normalized.startswith(self._prefixes) and is_user_file(
                normalized, self.roots, exclude=(BRACE_PACKAGE,)
            )
            self._verdicts[path] = verdict
        return verdict

    def fingerprint(self) -> Sources:
        """The hash of every source file now on disk (a few ms for hundreds of files)."""
        files = {path for root in self.roots for path in _source_files(root)}
        hashes = ((path, _sha256(path)) for path in sorted(files))
        return tuple((path, digest) for path, digest in hashes if digest is not None)

    def owns(self, name: str, module: object) -> bool:
        if name in self.model_modules:
            return True
        file = _file_of(module)
        if file is not None:
            return self.contains(file)
        # A namespace package has no file; it is ours if a portion of it is.
        portions = getattr(module, "__path__", None) if isinstance(module, ModuleType) else None
        return portions is not None and any(self.contains(str(p)) for p in portions)

    def modules(self) -> dict[str, ModuleType]:
        return {name: m for name, m in list(sys.modules.items()) if self.owns(name, m)}

    def evict(self) -> dict[str, ModuleType]:
        """Forget the user's modules (and cached source lines); returns what was evicted."""
        evicted = self.modules()
        for name in evicted:
            del sys.modules[name]
        for filename in list(linecache.cache):
            if self.contains(filename):
                linecache.cache.pop(filename, None)
        return evicted

    def restore(self, evicted: dict[str, ModuleType]) -> None:
        """Drop whatever the user's modules are now and put `evicted` back."""
        for name in self.modules():
            sys.modules.pop(name, None)
        sys.modules.update(evicted)
