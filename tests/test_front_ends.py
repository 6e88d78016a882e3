"""Use-cases speak no front end: what `brace/services`, `brace/rollout` and
`brace/store` raise names no command and no flag. The CLI words its hints from the
refusal's kind and facts (`brace/cli/hints.py`); the API answers them as JSON."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from brace.cli.hints import HINTS

ROOT = Path(__file__).resolve().parents[1] / "brace"
LAYERS = ("services", "rollout", "store")
CLI_WORDS = re.compile(r"`brace |(?<![\w-])--[a-z]|-m MODEL|Pass -m")


def _raised_strings(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Raise) and node.exc is not None:
            for inner in ast.walk(node.exc):
                if isinstance(inner, ast.Constant) and isinstance(inner.value, str):
                    found.append((inner.lineno, inner.value))
    return found


@pytest.mark.parametrize("layer", LAYERS)
def test_refusals_name_no_command_or_flag(layer: str) -> None:
    offending = [
        f"{path.relative_to(ROOT.parent)}:{line}: {text!r}"
        for path in sorted((ROOT / layer).rglob("*.py"))
        for line, text in _raised_strings(path)
        if CLI_WORDS.search(text)
    ]
    assert offending == []


def test_every_code_with_a_cli_hint_is_raised_somewhere() -> None:
    raisers = "\n".join(p.read_text() for p in ROOT.rglob("*.py") if p != ROOT / "cli" / "hints.py")
    assert [code for code in HINTS if f'code="{code}"' not in raisers] == []
