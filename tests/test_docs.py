"""The CLI reference is generated from --help and kept in step with the code."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from brace.cli.reference import commands, markdown
from brace.errors import BraceError

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


_BRACE = Path(__file__).resolve().parent.parent / "brace"


def _module_file(name: str) -> Path | None:
    path = _BRACE.parent.joinpath(*name.split("."))
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _api_modules() -> list[Path]:
    """The files a management API answer can come from: brace.server.api and every
    brace module it imports, directly or not, at the top or inside a function."""
    seen: dict[str, Path] = {}
    pending = ["brace.server.api"] + [
        f"brace.server.api.{p.stem}" for p in (_BRACE / "server" / "api").glob("*.py")
    ]
    while pending:
        name = pending.pop()
        file = _module_file(name)
        if name in seen or file is None:
            continue
        seen[name] = file
        for node in ast.walk(ast.parse(file.read_text())):
            if isinstance(node, ast.Import):
                pending.extend(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                pending.append(node.module)
                pending.extend(f"{node.module}.{alias.name}" for alias in node.names)
    return [file for name, file in seen.items() if name.startswith("brace.")]


def _error_classes() -> dict[str, type[BraceError]]:
    """Every BraceError subclass by name (brace.errors and the few defined elsewhere)."""
    import brace.services.wait  # noqa: F401  (defines DeploymentFailed)

    found: dict[str, type[BraceError]] = {}
    pending: list[type[BraceError]] = [BraceError]
    while pending:
        kind = pending.pop()
        found[kind.__name__] = kind
        pending.extend(kind.__subclasses__())
    return found


def _api_error_codes() -> set[tuple[int, str]]:
    """(HTTP status, error_code) of every refusal the management API can answer: each
    BraceError raised in its sources (its `code=`, else its kind's default), and the
    JSON error bodies the API writes itself."""
    classes = _error_classes()
    codes: set[tuple[int, str]] = set()
    for file in _api_modules():
        for node in ast.walk(ast.parse(file.read_text())):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.id if isinstance(node.func, ast.Name) else None
            keywords = {k.arg: k.value for k in node.keywords}
            if name in classes:
                code = keywords.get("code")
                kind = classes[name]
                if isinstance(code, ast.Constant):
                    codes.add((kind.http_status, code.value))
                elif code is None:
                    codes.add((kind.http_status, kind.default_code))
            status = keywords.get("status_code")
            body = node.args[0] if node.args else None
            if isinstance(status, ast.Constant) and isinstance(body, ast.Dict):
                for key, value in zip(body.keys, body.values, strict=True):
                    if (
                        isinstance(key, ast.Constant)
                        and key.value == "error_code"
                        and isinstance(value, ast.Constant)
                    ):
                        codes.add((status.value, value.value))
    return codes


def _documented_error_codes() -> set[tuple[int, str]]:
    text = (DOCS / "api.md").read_text()
    table = text.split("| status | error_code | when |", 1)[1].split("\n\n", 1)[0]
    documented: set[tuple[int, str]] = set()
    for row in table.splitlines()[2:]:
        status, codes = row.split("|")[1:3]
        documented.update((int(status), code) for code in re.findall(r"`([A-Z_]+)`", codes))
    return documented


def test_the_api_error_table_lists_every_error_code_the_api_answers() -> None:
    produced = _api_error_codes()
    assert (409, "NO_PROMOTION") in produced  # the scan sees the use-cases' refusals
    assert _documented_error_codes() == produced
