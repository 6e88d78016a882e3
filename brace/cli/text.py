"""Text for people, written without Rich: lines, styled lines and aligned tables.

Importing Rich's console and table costs about 30 ms, more than everything else a
state-only command does, and a command run with `-o json` must not pay it at all.
These functions write what brace's Rich settings wrote (no highlighting, soft wrap,
tables without a box, bold headers), byte for byte when the stream is not a terminal
(tests/cli/test_text.py compares them with Rich), and with the same styles as ANSI
codes on a terminal. Two differences on purpose: `:name:` is not turned into an emoji,
and tabs and control characters in a line are written as they are.

A table that does not fit the width (200 columns when stdout is not a terminal, else
the terminal's), whose cells are not printable ASCII (wide characters, control codes),
or that is empty, still goes to Rich, which wraps and measures such cells.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Sequence
from typing import Literal, TextIO

Style = Literal["bold", "red", "yellow"]

_CODES: dict[Style, str] = {"bold": "1", "red": "31", "yellow": "33"}
_COLOURS = ("red", "yellow")
PIPE_WIDTH = 200
"""Columns a table may use when stdout is not a terminal (no wrapping at 80)."""


def _styled(stream: TextIO) -> bool:
    """Whether `stream` gets ANSI styles, as Rich decides it."""
    if os.environ.get("TERM", "").lower() in ("dumb", "unknown"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    isatty = getattr(stream, "isatty", None)
    return bool(isatty is not None and isatty())


def _write(stream: TextIO, message: str, style: Style | None) -> None:
    colourless = style in _COLOURS and "NO_COLOR" in os.environ  # NO_COLOR keeps bold
    if style is not None and not colourless and _styled(stream):
        message = f"\x1b[{_CODES[style]}m{message}\x1b[0m"
    stream.write(message + "\n")
    stream.flush()


def out(message: str, style: Style | None = None) -> None:
    """One line (or several) on stdout."""
    _write(sys.stdout, message, style)


def err(message: str, style: Style | None = None) -> None:
    """One line (or several) on stderr."""
    _write(sys.stderr, message, style)


def table(header: Sequence[str] | None, rows: Sequence[Sequence[str]]) -> None:
    """Columns two spaces apart, each as wide as its widest cell, on stdout; `header`
    (bold) above the rows unless None."""
    lines = [list(header)] if header is not None else []
    lines += [list(row) for row in rows]
    if not lines:
        return
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    plain = all(cell.isascii() and cell.isprintable() for line in lines for cell in line)
    total = sum(widths) + 2 * (len(widths) - 1)
    if not plain or not 0 < total <= _width():  # Rich writes an empty table as " "
        _rich_table(header, rows)
        return
    texts = ["  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) for line in lines]
    for number, text in enumerate(texts):
        _write(sys.stdout, text, "bold" if header is not None and number == 0 else None)


def _width() -> int:
    if not sys.stdout.isatty():
        return PIPE_WIDTH
    return shutil.get_terminal_size().columns


def _rich_table(header: Sequence[str] | None, rows: Sequence[Sequence[str]]) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    columns = header if header is not None else rows[0]
    rendered = Table(box=None, pad_edge=False, header_style="bold", show_header=header is not None)
    for column in columns:
        rendered.add_column(Text(column) if header is not None else "")
    for row in rows:
        rendered.add_row(*(Text(cell) for cell in row))
    width = None if sys.stdout.isatty() else PIPE_WIDTH
    Console(highlight=False, soft_wrap=True, width=width).print(rendered)
