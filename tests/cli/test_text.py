"""brace/cli/text.py writes what Rich wrote with brace's settings."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console
from rich.table import Table
from rich.text import Text

from brace.cli import text


def rich_table(header: list[str] | None, rows: list[list[str]]) -> str:
    """The table as brace printed it with Rich before text.py, stdout not a terminal."""
    written = io.StringIO()
    console = Console(file=written, highlight=False, soft_wrap=True, width=text.PIPE_WIDTH)
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in header if header is not None else rows[0]:  # brace's are plain words
        table.add_column(Text(column) if header is not None else "")
    table.show_header = header is not None
    for row in rows:
        table.add_row(*(Text(cell) for cell in row))
    console.print(table)
    return written.getvalue()


ascii_cells = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=30)
any_cells = st.text(max_size=12)


@st.composite
def tables(
    draw: st.DrawFn, cells: st.SearchStrategy[str]
) -> tuple[list[str] | None, list[list[str]]]:
    columns = draw(st.integers(1, 9))
    row = st.lists(cells, min_size=columns, max_size=columns)
    header = draw(st.one_of(st.none(), row))
    rows = draw(st.lists(row, min_size=0 if header is not None else 1, max_size=5))
    return header, rows


def written_table(header: list[str] | None, rows: list[list[str]]) -> str:
    """What `text.table` writes to stdout."""
    written = io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("sys.stdout", written)
        text.table(header, rows)
    return written.getvalue()


@settings(max_examples=300, deadline=None)
@given(tables(ascii_cells))
def test_a_table_is_written_as_rich_wrote_it(
    table: tuple[list[str] | None, list[list[str]]],
) -> None:
    assert written_table(*table) == rich_table(*table)


@settings(max_examples=100, deadline=None)
@given(tables(any_cells))
def test_a_table_of_any_characters_is_written_as_rich_wrote_it(
    table: tuple[list[str] | None, list[list[str]]],
) -> None:
    assert written_table(*table) == rich_table(*table)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("style", [None, "bold", "red", "yellow"])
def test_a_line_on_a_terminal_has_rich_s_styles(
    style: text.Style | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("NO_COLOR", "FORCE_COLOR", "TERM"):
        monkeypatch.delenv(name, raising=False)
    ours, theirs = Terminal(), io.StringIO()
    monkeypatch.setattr("sys.stderr", ours)
    text.err("Error: no model named 'x'", style)
    Console(file=theirs, force_terminal=True, highlight=False, soft_wrap=True).print(
        "Error: no model named 'x'", style=style, markup=False
    )
    assert ours.getvalue() == theirs.getvalue()


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        pytest.param({}, "message\n", id="a pipe"),
        pytest.param({"FORCE_COLOR": "1"}, "\x1b[31mmessage\x1b[0m\n", id="FORCE_COLOR"),
        pytest.param({"FORCE_COLOR": "1", "NO_COLOR": "1"}, "message\n", id="NO_COLOR"),
    ],
)
def test_styles_follow_the_environment(
    env: dict[str, str], expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("NO_COLOR", "FORCE_COLOR", "TERM"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    written = io.StringIO()
    monkeypatch.setattr("sys.stdout", written)
    text.out("message", "red")
    assert written.getvalue() == expected


def test_wait_progress_shows_the_elapsed_time_on_a_terminal(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`push --wait` / `promote --wait`: each status with the time since the wait
    began on a terminal; plain lines into a pipe."""
    from brace.cli.common import wait_and_report

    readings = iter([10.0, 10.4, 13.25])

    def wait(report: Callable[[str], None]) -> None:
        report("DEPLOYING")
        report("ACTIVE")

    wait_and_report(wait, "abc", terminal=True, clock=lambda: next(readings))
    assert capsys.readouterr().err == "  DEPLOYING (0.4 s)\n  ACTIVE (3.2 s)\n"
    wait_and_report(wait, "abc", terminal=False)
    assert capsys.readouterr().err == "  DEPLOYING\n  ACTIVE\n"
