"""Tracebacks cut to the user's own frames.

When a model fails, the user needs the lines of *their* code that led there, not
uvicorn's, starlette's, importlib's or brace's. A frame is kept when its file lies
inside one of the user's roots (the Truss directory, `packages/`, external package
directories) and not inside an excluded place (brace itself, any site-packages). The
exception line is always kept, so a SyntaxError in model.py or a TypeError raised deep
inside a library still says what went wrong. Chained exceptions are cut the same way.
Everything here is a pure function of paths and exceptions.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Iterable, Sequence
from pathlib import Path

import brace

# A path component that marks installed libraries, even inside the user's directory
# (a `.venv` kept next to config.yaml, say).
_LIBRARY_DIRS = frozenset({"site-packages", "dist-packages"})
BRACE_PACKAGE = str(Path(brace.__file__).resolve().parent)


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def is_user_file(filename: str, include: Sequence[str], exclude: Sequence[str] = ()) -> bool:
    """Whether a frame's file belongs to the user (see the module docstring).

    Paths are compared as normalized absolute strings, without touching the disk;
    pseudo-files (`<frozen importlib._bootstrap>`, `<string>`) and relative names are
    never the user's.
    """
    if not os.path.isabs(filename):
        return False
    path = os.path.normpath(filename)
    if _LIBRARY_DIRS.intersection(path.split(os.sep)):
        return False
    if any(_inside(path, os.path.normpath(root)) for root in exclude):
        return False
    return any(_inside(path, os.path.normpath(root)) for root in include)


def user_frames(
    frames: Iterable[traceback.FrameSummary], include: Sequence[str], exclude: Sequence[str] = ()
) -> list[traceback.FrameSummary]:
    return [frame for frame in frames if is_user_file(frame.filename, include, exclude)]


def cut_traceback(
    exc: BaseException, include: Sequence[str], exclude: Sequence[str] = (BRACE_PACKAGE,)
) -> str:
    """The formatted traceback of `exc` (and its chain) with only the user's frames."""
    summary = traceback.TracebackException.from_exception(exc)
    seen: set[int] = set()
    pending = [summary]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        current.stack = traceback.StackSummary.from_list(
            user_frames(current.stack, include, exclude)
        )
        pending.extend(
            chained
            for chained in (current.__cause__, current.__context__, *(current.exceptions or ()))
            if chained is not None
        )
    return "".join(summary.format()).rstrip("\n")
