"""The CLI reference is generated from --help and kept in step with the code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from brace.cli.reference import commands, markdown

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_cli_reference_is_up_to_date() -> None:
    assert (DOCS / "cli.md").read_text() == markdown(), (
        "docs/cli.md is out of date: run `python docs/generate_cli.py`"
    )


@pytest.mark.parametrize(
    ("path", "text"),
    [pytest.param(p, t, id=p) for p, t in commands() if "Commands:" not in t],
)
def test_every_command_has_an_example(path: str, text: str) -> None:
    assert "Example" in text, f"`{path} --help` shows no example"
    assert re.search(r"-o, --output \[text\|json(\|jsonl)?\]", text), (
        f"`{path}` has no -o/--output option"
    )
